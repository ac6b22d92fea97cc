/**
 * The delivery ledger of the receiving end (docs/link-protocol.md §5): which
 * message ids were delivered (never pruned: a sender that crashed between our
 * MSGACK and its spool delete offers them again), which await the host's
 * confirmDelivered (durable before ack), the MSGACK ranges owed and when they
 * are due, and the partner's FLOOR (nothing below it will come).
 */
import { BigRangeSet } from './ranges.ts';
import { MAX_MSGACK_RANGES } from './wire.ts';
import type { CoreLogger } from './log.ts';
import type { LinkEvent } from './events.ts';
import type { LinkOptions } from './options.ts';
import type { LinkCounters } from './stats.ts';

export class DeliveryLedger {
  /** Ids stored (resume) or delivered this lifetime: ranges, compact since spool ids are dense. */
  private readonly delivered = new BigRangeSet();
  /** Delivered, not yet confirmed by the host: id -> when it was delivered. */
  private readonly awaitingConfirm = new Map<bigint, number>();
  private readonly msgAcks = new BigRangeSet();
  private dueAt: number | undefined;
  private peerFloor = 0n;

  constructor(
    resume: LinkOptions['resume'],
    private readonly delayMs: number,
    private readonly c: LinkCounters,
    private readonly log: CoreLogger,
    private readonly events: LinkEvent[],
  ) {
    if (!resume) return;
    if (resume.deliveredUpTo >= 0n) this.delivered.add(0n, resume.deliveredUpTo);
    for (const id of resume.delivered ?? []) this.delivered.add(id);
  }

  /**
   * A message reassembled and inflated (`stanza` undefined: over maxStanzaBytes
   * after inflate). Delivered once; a duplicate is acknowledged again once durable.
   */
  offer(now: number, id: bigint, stanza: Buffer | undefined, meta: Uint8Array | undefined): void {
    if (this.delivered.has(id)) {
      if (!this.awaitingConfirm.has(id)) this.owe(now, id);
      this.c.duplicates++;
      return;
    }
    this.delivered.add(id);
    if (!stanza) {
      // Refused, acknowledged so the sender stops.
      this.c.messagesDropped.too_big++;
      this.log.warn({ id: String(id) }, 'stanza over maxStanzaBytes after inflate: dropped');
      this.owe(now, id);
      return;
    }
    this.awaitingConfirm.set(id, now);
    this.c.delivered++;
    this.events.push(meta ? { type: 'deliver', id, stanza, meta } : { type: 'deliver', id, stanza });
  }

  /**
   * The host stored `id` durably: its MSGACK may go. The wait for a frame to
   * ride on counts from the delivery, so the time the store took is not added
   * (due at once if it took longer than the wait).
   */
  confirm(now: number, id: bigint): void {
    const deliveredAt = this.awaitingConfirm.get(id);
    if (deliveredAt === undefined) return;
    this.awaitingConfirm.delete(id);
    this.owe(Math.min(now, deliveredAt), id);
  }

  /** `id` is owed a MSGACK, due delayMs after `from`. */
  private owe(from: number, id: bigint): void {
    this.msgAcks.add(id);
    this.dueAt = Math.min(this.dueAt ?? Infinity, from + this.delayMs);
  }

  /** FLOOR from the partner: MSGACKs below it are no longer owed. */
  onPeerFloor(floor: bigint): void {
    if (floor <= this.peerFloor) return;
    this.peerFloor = floor;
    this.events.push({ type: 'floor', id: floor });
    this.msgAcks.pruneBelow(floor);
  }

  hasMsgAcks(): boolean { return !this.msgAcks.isEmpty(); }

  /** When the owed MSGACKs must go, alone if need be. */
  msgAckAt(): number | undefined { return this.msgAcks.isEmpty() ? undefined : this.dueAt; }

  /** Nothing owed any more (the partner's FLOOR covered it): the timer is disarmed. */
  disarmIfNothingOwed(): void { if (this.msgAcks.isEmpty()) this.dueAt = undefined; }

  /** MSGACK ranges for a frame now (highest first); they count as sent. */
  takeMsgAcks(): Array<[bigint, bigint]> {
    const ranges = this.msgAcks.highest(MAX_MSGACK_RANGES);
    for (const [lo, hi] of ranges) this.msgAcks.remove(lo, hi);
    this.disarmIfNothingOwed();
    return ranges;
  }

  /** A frame carrying these MSGACK ranges was lost: owed again, at once. */
  onMsgAcksLost(now: number, ranges: Array<[bigint, bigint]>): void {
    if (!ranges.length) return;
    for (const [lo, hi] of ranges) this.msgAcks.add(lo, hi);
    this.dueAt = Math.min(this.dueAt ?? Infinity, now);
  }
}

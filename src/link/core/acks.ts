/**
 * Acknowledging frames received (docs/link-protocol.md §6): the seqs seen in
 * the partner's current run (the last 64 ranges), and when an ACK is due:
 * at once on reordering or loss or every second ack-eliciting frame, else
 * ackDelayMs after the first (RFC 9000 §13.2.1 style). The ACK rides on any
 * frame with news; only this timer sends one alone.
 */
import { RangeSet } from './ranges.ts';
import { MAX_ACK_RANGES } from './wire.ts';

const KEPT_RANGES = 64;

export class ReceivedFrames {
  private seqs = new RangeSet();
  private largestAt = 0;
  /** Something new to acknowledge (an ACK rides along on the next frame). */
  private pending = false;
  private elicitingUnacked = 0;
  /** When an ACK must go, alone if need be. */
  private due: number | undefined;

  constructor(private readonly ackDelayMs: number) {}

  /** An authentic frame taken. */
  onReceived(now: number, seq: number, ackEliciting: boolean): void {
    const max = this.seqs.max();
    const outOfOrder = max !== undefined && seq !== max + 1;
    this.seqs.add(seq);
    if (max === undefined || seq > max) this.largestAt = now;
    this.seqs.keepHighest(KEPT_RANGES);
    this.pending = true;
    if (!ackEliciting) return;
    this.elicitingUnacked++;
    const due = outOfOrder || this.elicitingUnacked >= 2 ? now : now + this.ackDelayMs;
    this.due = this.due === undefined ? due : Math.min(this.due, due);
  }

  /** A new partner run (or a v1 epoch back): its seqs start afresh. */
  reset(): void {
    this.seqs = new RangeSet();
    this.pending = false;
    this.elicitingUnacked = 0;
    this.due = undefined;
  }

  /** The ACK timer (undefined: none armed). */
  dueAt(): number | undefined { return this.due; }

  isDue(now: number): boolean { return this.pending && this.due !== undefined && this.due <= now; }

  /** The ACK to put in a frame now (highest ranges first, and how long the largest waited), if there is news. */
  /** The ranges an ACK would carry now, leaving what is owed owed (a bearer probe repeats them). */
  peek(now: number): { ranges: Array<[number, number]>; delayMs: number } | undefined {
    if (this.seqs.size === 0) return undefined;
    return { ranges: this.seqs.highest(MAX_ACK_RANGES), delayMs: Math.max(0, now - this.largestAt) };
  }

  take(now: number): { ranges: Array<[number, number]>; delayMs: number } | undefined {
    if (!this.pending || this.seqs.size === 0) return undefined;
    this.pending = false;
    this.elicitingUnacked = 0;
    this.due = undefined;
    return { ranges: this.seqs.highest(MAX_ACK_RANGES), delayMs: Math.max(0, now - this.largestAt) };
  }
}

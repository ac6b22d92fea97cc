/**
 * The outbox: stanzas from a local server to the partner. A stanza is
 * committed to the spool before accept() resolves; committed stanzas enter
 * the scheduler (the relay's OutboundQueue) in the order they were accepted;
 * while the core has room, the packer turns what the scheduler gives into
 * link messages, which are recorded durably under a group id (the core's
 * message id) before the core gets them; the partner's acknowledgement
 * deletes them (the host calls spool.ackGroup). Held too long, stanzas the
 * core never put on the bearer are bounced. No timers of its own: the host
 * calls expire() on its clock.
 */
import type { Spool, DamagedStanza } from '../../spool/index.ts';
import { SpoolDiskFullError, SpoolFullError } from '../../spool/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';
import type { Clock, OutboundScheduler } from '../port.ts';
import { headOf, parseStanza, priorityOf } from './message.ts';
import { messageBytesLimit, pack } from './packer.ts';
import { retryingWrite } from './retry.ts';

export type OutboxSpool = Pick<Spool, 'nextId' | 'accept' | 'ack' | 'assignGroups' | 'ackGroup' | 'groups' | 'acceptedAt' | 'entry' | 'damagedOut' | 'pending'>;

/** The part of the link core (LinkEndpoint) the outbox feeds. */
export interface OutboxCore {
  submit(id: bigint, stanza: Buffer, priority: 'high' | 'low', now: number): void;
  /** Messages submitted and not yet started on the bearer. */
  waitingCount(): number;
  /** Withdraws a message never put on the bearer (false: it has been, or is gone). */
  cancel(id: bigint): boolean;
  stats(): { compressedBytesOut: number; stanzaBytesOut: number };
}

export interface OutboxOptions {
  name: string;
  spool: OutboxSpool;
  scheduler: OutboundScheduler;
  clock: Clock;
  /** Messages the core should hold waiting (packer.coreTarget). */
  coreTarget: number;
  frameBytes: number;
  maxStanzaBytes: number;
  heldTimeoutMs: number;
  metrics: Metrics;
  log: Logger;
  /** A spool write failed (the link's lastError). */
  failed(message: string): void;
}

/** What the host connects once the core and the driver exist. */
export interface OutboxWiring {
  core: OutboxCore;
  /** The core has more to send (driver.poke). */
  poke(): void;
  /** A stanza of a local sender could not be carried: the relay bounces it. */
  bounce(el: XmlElement, err: StanzaError): void;
  /** Stanzas lost to spool damage (damage.ts reports them). */
  damaged(list: DamagedStanza[]): void;
}

interface Slot {
  id: bigint;
  done: boolean;
  ok?: boolean;
  bytes: Buffer;
  el: XmlElement;
  acceptedAt: number;
}

export class Outbox {
  /** Stanzas handed to the core so far. */
  sent = 0;
  private w?: OutboxWiring;
  private running = false;
  private pumping = false;
  /** Ids being committed, in allocation order; queued in that order. */
  private accepting: Slot[] = [];
  /** A pump is due after this run of commit settlements. */
  private pumpQueued = false;

  constructor(private readonly o: OutboxOptions) {}

  /** Stanzas waiting for the core. */
  get queued(): number {
    return this.o.scheduler.length;
  }

  /**
   * After a restart: stanzas spooled but not in a recorded link message go
   * back into the scheduler (one that no longer parses is dropped, counted).
   */
  resume(grouped: ReadonlySet<bigint>): number {
    let requeued = 0;
    for (const e of this.o.spool.pending(this.o.name)) {
      if (grouped.has(e.id)) continue;
      try {
        this.enqueue(e.id, parseStanza(e.stanza, this.o.maxStanzaBytes), e.stanza.length, e.meta.acceptedAt);
        requeued++;
      } catch (err) {
        this.o.log.error({ err: (err as Error).message, id: String(e.id) }, 'spooled stanza does not parse; dropped');
        this.o.metrics.inc('link_dropped_total', { link: this.o.name, reason: 'bad_spooled' });
        void this.o.spool.ack(this.o.name, e.id);
      }
    }
    return requeued;
  }

  /** The core and driver are there: start feeding the core. */
  start(w: OutboxWiring): void {
    this.w = w;
    this.running = true;
    this.pump();
  }

  stop(): void {
    this.running = false;
  }

  /** Commits a stanza to the spool; rejects with the StanzaError to bounce when it cannot (full spool, full disk). */
  async accept(el: XmlElement, bytes: Buffer): Promise<void> {
    const { spool, name, metrics } = this.o;
    const slot: Slot = { id: spool.nextId(name), done: false, bytes, el, acceptedAt: this.o.clock.wall() };
    this.accepting.push(slot);
    try {
      const h = headOf(el);
      const id = await spool.accept(name, bytes, { priority: priorityOf(el), from: h.from, to: h.to, acceptedAt: slot.acceptedAt, kind: h.kind, sid: h.id, type: h.type });
      if (id !== slot.id) throw new Error(`spool id ${id} differs from the expected ${slot.id}`);
      slot.ok = true;
    } catch (err) {
      if (err instanceof SpoolFullError) {
        metrics.inc('link_refused_total', { link: name, reason: 'spool_full' });
        throw new StanzaError('resource-constraint', `spool for link ${name} is full`);
      }
      if (err instanceof SpoolDiskFullError) {
        // RFC 6120 §8.3.3.18: the relay lacks the storage to take it now.
        metrics.inc('link_refused_total', { link: name, reason: 'disk_full' });
        throw new StanzaError('resource-constraint', `no disk space for the spool of link ${name}`);
      }
      throw new StanzaError('internal-server-error', `spool: ${(err as Error).message}`);
    } finally {
      slot.done = true;
      this.queueAccepted();
    }
  }

  /**
   * Moves committed stanzas into the scheduler in the order they were
   * accepted, then packs once the whole commit has been seen: the stanzas of
   * one commit settle one after another in the same run of microtasks (a
   * microtask queued at the first runs after the last), and packing at the
   * first would send it alone and hold the rest for another record commit.
   */
  private queueAccepted(): void {
    while (this.accepting.length && this.accepting[0].done) {
      const s = this.accepting.shift()!;
      if (s.ok) this.enqueue(s.id, s.el, s.bytes.length, s.acceptedAt);
    }
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private enqueue(id: bigint, el: XmlElement, bytes: number, acceptedAt: number): void {
    const { superseded } = this.o.scheduler.push({ id, el, bytes, priority: priorityOf(el), acceptedAt });
    // A newer presence replaced these while they waited: they need not cross.
    for (const old of superseded) void this.o.spool.ack(this.o.name, old).catch((err: Error) => this.o.log.error({ err: err.message }, 'spool ack failed'));
  }

  /**
   * Hands packed link messages to the core while it has room. When the bearer
   * is busy the core holds only a few messages, so a backlog waits in the
   * scheduler (where the optimizers still fold it) and is packed.
   */
  pump(): void {
    const w = this.w;
    if (this.pumping || !w || !this.running) return;
    this.bounceRefused(w);
    const room = this.o.coreTarget - w.core.waitingCount();
    if (room <= 0 || this.o.scheduler.length === 0) return;
    const limit = messageBytesLimit(this.o.frameBytes, this.o.maxStanzaBytes, w.core.stats());
    const msgs = pack(() => this.o.scheduler.take(), room, limit);
    this.bounceRefused(w);
    if (msgs.length === 0) return;
    this.pumping = true;
    this.record(msgs.map((m) => ({ ids: m.ids, stanza: m.stanza, priority: m.priority })))
      .then(
        (gids) => {
          gids.forEach((gid, n) => {
            w.core.submit(gid, msgs[n].stanza, msgs[n].priority, this.o.clock.now());
            this.sent += msgs[n].ids.length;
            for (const [kind, count] of msgs[n].kinds) this.o.metrics.inc('link_stanzas_sent_total', { link: this.o.name, kind }, count);
          });
          w.poke();
        },
        (err: Error) => {
          // Stopped before they could be recorded: they stay spooled and go out after the next start.
          this.o.failed(err.message);
          this.o.log.error({ err: err.message }, 'could not record link messages; they wait in the spool');
        },
      )
      .finally(() => {
        this.pumping = false;
        this.pump();
      });
  }

  /** Bounces what the scheduler refuses to carry (a metered bearer's spent budget) and forgets it in the spool. */
  private bounceRefused(w: OutboxWiring): void {
    const list = this.o.scheduler.refused?.();
    if (!list?.length) return;
    for (const r of list) {
      void this.o.spool.ack(this.o.name, r.stanza.id).catch((err: Error) => this.o.log.error({ err: err.message }, 'spool ack failed'));
      this.o.metrics.inc('link_refused_total', { link: this.o.name, reason: r.reason });
      w.bounce(r.stanza.el, r.error);
    }
  }

  /** Records link messages; a failed commit (a full disk) is tried again with pumping held, so order is kept. */
  private record(groups: Array<{ ids: bigint[]; stanza: Buffer; priority: 'high' | 'low' }>): Promise<bigint[]> {
    const ctx = { clock: this.o.clock, log: this.o.log, running: () => this.running, failed: this.o.failed };
    return retryingWrite(ctx, () => this.o.spool.assignGroups(this.o.name, groups), 'could not record link messages', {});
  }

  /**
   * Bounces stanzas held too long: those still in the scheduler, and link
   * messages the core has never put on the bearer. A message that has been on
   * the bearer may have arrived, so it is never bounced: it is delivered when
   * the link returns.
   */
  expire(): void {
    const w = this.w;
    if (!w) return;
    const { spool, name, metrics, heldTimeoutMs: held } = this.o;
    const now = this.o.clock.wall();
    const bounce = (el: XmlElement): void => {
      metrics.inc('link_expired_total', { link: name });
      w.bounce(el, new StanzaError('remote-server-timeout', `link ${name} could not deliver within ${Math.round(held / 1000)} s`));
    };
    for (const q of this.o.scheduler.expireOlderThan(now, held)) {
      void spool.ack(name, q.id);
      bounce(q.el);
    }
    // Only link messages (a few frames' worth) are looked at; accept times come from memory.
    for (const g of spool.groups(name)) {
      const times = g.ids.map((id) => spool.acceptedAt(name, id)).filter((a) => a !== undefined);
      if (!(now - Math.min(...times) > held) || !w.core.cancel(g.gid)) continue;
      const members = g.ids.map((id) => ({ id, e: spool.entry(name, id) }));
      const damaged = members.flatMap((m) => (m.e ? [] : (spool.damagedOut(name, m.id) ?? [])));
      void spool.ackGroup(name, g.gid);
      for (const { e } of members) {
        if (!e) continue;
        try {
          bounce(parseStanza(e.stanza, this.o.maxStanzaBytes));
        } catch {
          metrics.inc('link_dropped_total', { link: name, reason: 'bad_spooled' });
        }
      }
      w.damaged(damaged);
    }
  }
}

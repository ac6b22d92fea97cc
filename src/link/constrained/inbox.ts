/**
 * The inbox: link messages from the partner to the local servers. A message
 * the core delivers is committed to the inbound spool, then confirmed to the
 * core (which may acknowledge it only then), then its stanzas are handed to
 * the relay in order. The relay orders local delivery per destination domain
 * (relay/local-delivery.ts); the spool forgets a message only once every
 * stanza in it is written to its local server or bounced, so a crash or stop
 * before then replays it. Of a message handed over in part, the stanzas left
 * are recorded (once per clock turn), so a restart replays only those.
 */
import type { Spool } from '../../spool/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';
import type { Clock } from '../port.ts';
import { headOf, parseStanzas, partsOf } from './message.ts';
import { retryingWrite } from './retry.ts';

export type InboxSpool = Pick<Spool, 'receive' | 'advanceDeliveredUpTo' | 'inboundPending' | 'keepInbound' | 'handedOver'>;

export interface InboxOptions {
  name: string;
  spool: InboxSpool;
  clock: Clock;
  maxStanzaBytes: number;
  metrics: Metrics;
  log: Logger;
  /** A spool write failed (the link's lastError). */
  failed(message: string): void;
}

export interface InboxWiring {
  /** The message is on disk: the core may acknowledge it (confirmDelivered, then driver.poke). */
  confirm(id: bigint): void;
  /**
   * One stanza to the relay (LinkHandlers.deliver): resolves once written to a
   * local server or bounced. `released` settles once the spool no longer holds it.
   */
  deliver(el: XmlElement, released: Promise<void>): Promise<void> | void;
}

export class Inbox {
  /** Stanzas handed to the relay so far. */
  received = 0;
  private w?: InboxWiring;
  private running = false;
  /** Store, confirm and hand over run strictly in delivery order. */
  private chain: Promise<void> = Promise.resolve();
  /** Messages delivered while the previous ones are being stored: stored together, in one commit. */
  private batch: Array<{ id: bigint; stanza: Buffer }> = [];
  /** Messages being handed over (stop waits for them). */
  private readonly handing = new Set<Promise<unknown>>();

  constructor(private readonly o: InboxOptions) {}

  /** Wires the inbox and hands over what was stored but not handed over before a restart. */
  start(w: InboxWiring): void {
    this.w = w;
    this.running = true;
    for (const e of this.o.spool.inboundPending(this.o.name)) this.handOver(e.id, e.stanza);
  }

  /** The core delivered a link message (event 'deliver'). */
  delivered(id: bigint, stanza: Buffer): void {
    this.batch.push({ id, stanza });
    if (this.batch.length > 1) return;
    this.chain = this.chain.then(() => {
      const items = this.batch;
      this.batch = [];
      return this.receiveAll(items);
    });
  }

  /**
   * Stores the messages of a batch at once (the spool commits them together),
   * then confirms and hands them over in order. One whose store failed is
   * retried on its own (receive) before the next is confirmed, so the order of
   * confirmation and hand-over is kept.
   */
  private async receiveAll(items: Array<{ id: bigint; stanza: Buffer }>): Promise<void> {
    if (items.length === 1) return this.receive(items[0].id, items[0].stanza);
    const stores = items.map(({ id, stanza }) => {
      const els = this.parse(stanza);
      const stored = this.o.spool.receive(this.o.name, id, stanza, undefined, els && partsOf(stanza, els)).then(
        (fresh) => ({ fresh }),
        () => undefined,
      );
      return { id, stanza, els, stored };
    });
    for (const { id, stanza, els, stored } of stores) {
      const r = await stored;
      if (r === undefined) await this.receive(id, stanza);
      else this.afterStore(id, stanza, els, r.fresh);
    }
  }

  private parse(stanza: Buffer): XmlElement[] | undefined {
    try {
      return parseStanzas(stanza, this.o.maxStanzaBytes);
    } catch {
      return undefined; // handOver reports it
    }
  }

  /** The partner will never resend messages below `id` (event 'floor'). */
  floor(id: bigint): void {
    const upTo = id - 1n;
    this.chain = this.chain.then(() =>
      this.o.spool.advanceDeliveredUpTo(this.o.name, upTo).catch((err: Error) => this.o.log.error({ err: err.message }, 'spool floor advance failed')),
    );
  }

  /** No more retries; resolves once the work in progress is done or kept for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    await this.chain;
    await Promise.all(this.handing);
  }

  private async receive(id: bigint, stanza: Buffer): Promise<void> {
    // The core has this message as delivered and drops the partner's resends of it
    // until confirmDelivered: a failed store (a full disk) is retried here, in order.
    const fields = { id: String(id) };
    let last: string | undefined;
    const failed = (m: string): void => {
      last = m;
      this.o.failed(m);
    };
    const ctx = { clock: this.o.clock, log: this.o.log, running: () => this.running, failed };
    try {
      await retryingWrite(ctx, () => this.receiveOnce(id, stanza), 'could not store a received stanza', fields);
    } catch {
      this.o.log.error({ err: last, ...fields }, 'could not store a received stanza');
    }
  }

  private async receiveOnce(id: bigint, stanza: Buffer): Promise<void> {
    // Stored stanza by stanza (a checksum and a bounce address each), when the message parses.
    const els = this.parse(stanza);
    const fresh = await this.o.spool.receive(this.o.name, id, stanza, undefined, els && partsOf(stanza, els));
    this.afterStore(id, stanza, els, fresh);
  }

  private afterStore(id: bigint, stanza: Buffer, els: XmlElement[] | undefined, fresh: boolean): void {
    this.w!.confirm(id);
    if (!fresh) {
      this.o.metrics.inc('link_duplicates_dropped_total', { link: this.o.name });
      return;
    }
    this.handOver(id, stanza, els);
  }

  /** Hands a stored link message (one or more stanzas) to the relay, stanza by stanza in order. */
  private handOver(id: bigint, stanza: Buffer, parsed?: XmlElement[]): void {
    const { spool, name, metrics, log } = this.o;
    let els: XmlElement[];
    try {
      els = parsed ?? parseStanzas(stanza, this.o.maxStanzaBytes);
    } catch (err) {
      metrics.inc('link_dropped_total', { link: name, reason: 'bad_stanza' });
      log.error({ err: (err as Error).message, id: String(id) }, 'partner sent a stanza that does not parse');
      void spool.handedOver(name, id);
      return;
    }
    // Of a multi-stanza message, the stanzas not yet handed over (a restart replays only these).
    const parts = els.length > 1 ? els.map((el) => el.raw ?? el.toBuffer()) : [];
    const left = new Set(els.keys());
    // Each stanza's release: settled once the spool's record no longer holds it (the delivery window waits for it).
    const release = els.map(() => deferred());
    /** Handed over since the last progress record was cut. */
    let unrecorded: number[] = [];
    const freeAll = (): void => {
      for (const r of release) r.settle();
    };
    let progress: Promise<unknown> = Promise.resolve();
    // Progress is written once per clock turn (lmdb commits once per turn anyway), not per stanza.
    let scheduled = false;
    const recordProgress = (): void => {
      if (scheduled || parts.length === 0) return;
      scheduled = true;
      this.o.clock.schedule(0, () => {
        scheduled = false;
        if (left.size === 0 || left.size === els.length) return;
        const kept = [...left].sort((x, y) => x - y);
        const rest = Buffer.concat(kept.map((k) => parts[k]));
        const restParts = kept.map((k) => ({ length: parts[k].length, head: headOf(els[k]) }));
        const recorded = unrecorded;
        unrecorded = [];
        const free = (): void => {
          for (const k of recorded) release[k].settle();
        };
        progress = spool.keepInbound(name, id, rest, restParts).then(free, (err: Error) => {
          free();
          log.error({ err: err.message }, 'spool keepInbound failed');
        });
      });
    };
    const done = els.map((el, i) => {
      this.received++;
      metrics.inc('link_stanzas_received_total', { link: name, kind: el.local });
      return this.deliver(el, release[i].promise).then(
        () => {
          left.delete(i);
          unrecorded.push(i);
          if (left.size > 0) recordProgress();
          return true;
        },
        (err: Error) => {
          release[i].settle(); // kept for the next start, not written: no place in the window
          log.info({ err: err.message, id: String(id) }, 'not handed over; kept for the next start');
          return false;
        },
      );
    });
    // The message leaves the inbound spool once every stanza in it is written to its local server or bounced.
    const all = Promise.all(done)
      .then((oks) => (oks.every(Boolean) ? spool.handedOver(name, id) : progress))
      .catch((err: Error) => log.error({ err: err.message }, 'spool handedOver failed'))
      .finally(freeAll);
    this.handing.add(all);
    void all.then(() => this.handing.delete(all));
  }

  private deliver(el: XmlElement, released: Promise<void>): Promise<void> {
    try {
      return Promise.resolve(this.w!.deliver(el, released));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
}

/** A promise and the one call that settles it (more calls do nothing). */
function deferred(): { promise: Promise<void>; settle: () => void } {
  let settle!: () => void;
  const promise = new Promise<void>((r) => (settle = r));
  return { promise, settle };
}

/**
 * Local delivery: stanzas from the far side (and those the relay makes) to
 * the local servers. The one owner of:
 *  - order and window: for a link that asks for it (RelayLink.deliverInOrder),
 *    its stanzas for one destination domain (a lane) are written in arrival
 *    order, at most `window` (local.delivery_window) of them before the
 *    local server confirms the first (XEP-0198 ack) or it is bounced; with
 *    the default 1, each waits for the one before. A local server that goes
 *    away has at most `window` unconfirmed stanzas per lane, which the durable
 *    link sends again after a restart;
 *  - retry: while a local server cannot be reached, a stanza is tried again
 *    with back-off (1 s, doubling to 30 s) for up to the hold time
 *    (limits.held_stanza_timeout_s); then the error goes to the caller. In a
 *    lane, stanzas waiting to be tried again are written again in their
 *    first order, and no new stanza of the lane is written before them;
 *  - stop: a first attempt still goes (shutdown's own bounces must reach
 *    their senders), nothing is retried (RelayStoppingError: a durable link
 *    keeps the stanza), and stop waits a bounded time for what is under way.
 * Every wait runs on the given clock (time/).
 */
import { SITE_DEFAULTS } from '../config/defaults.ts';
import { StanzaError } from '../xmpp/errors.ts';
import { domainOf } from '../xmpp/jid.ts';
import type { XmlElement } from '../xml/element.ts';
import type { Metrics } from '../obs/metrics.ts';
import type { Logger } from '../obs/log.ts';
import type { Cancel, Clock } from '../time/index.ts';
import { RelayStoppingError } from './router.ts';

/** First retry delay, and the most it doubles to. */
export const RETRY_FIRST_MS = 1000;
export const RETRY_MAX_MS = 30_000;

/** Conditions after which a local delivery is tried again while the stanza may still wait. */
const RETRYABLE = new Set(['remote-server-not-found', 'remote-server-timeout', 'resource-constraint']);

export interface LocalDeliveryOptions {
  /** Writes one stanza to its local server (S2SService.send): resolves once it has it, rejects with a StanzaError. */
  send(el: XmlElement): Promise<void>;
  /** How long a stanza may wait for its local server, ms. */
  holdMs: number;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  /** A retry's reason (the relay's lastError). */
  failed(message: string): void;
  /** Stanzas of one lane written to a local server before its acknowledgement (local.delivery_window). */
  window?: number;
}

/** A stanza of a lane waiting to be written again. */
interface Resend {
  seq: number;
  due: number;
  wake(): void;
}

/** One link's stanzas for one local domain. */
interface Lane {
  link: string;
  domain: string;
  /** Routes waiting for room in the window, oldest first, from `next` on (a burst queues thousands: no shift()). */
  waiting: Array<(() => void) | undefined>;
  next: number;
  /** Routes started and not settled. */
  open: number;
  /** Deliveries of the lane under way. */
  active: number;
  /** Next delivery's place in the lane. */
  seq: number;
  /** Deliveries waiting to be written again, by seq. */
  resend: Resend[];
  /** Deliveries woken to be written again, not yet written. */
  waking: number;
  cancel?: Cancel;
}

export class LocalDelivery {
  private stopping = false;
  private readonly window: number;
  /** Per link and destination domain. */
  private readonly lanes = new Map<string, Map<string, Lane>>();
  /** Deliveries under way (stop waits for them). */
  private readonly delivering = new Set<Promise<void>>();
  /** Retry waits, cut short at stop. */
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly o: LocalDeliveryOptions) {
    this.window = o.window ?? SITE_DEFAULTS.local.delivery_window;
  }

  /**
   * Runs `route` (the router's handling of one stanza from `link`, which
   * delivers with deliver(el, link)) in arrival order per link and
   * destination domain: at once while fewer than `window` earlier ones have
   * not settled (whatever their outcome) and none waits to be written again.
   * With `released` (the link's record that the stanza left its spool), a
   * stanza holds its place in the window until that settles too: at most
   * `window` stanzas per lane can be written and still in the spool, which
   * is what a crash can deliver twice.
   */
  inOrder(link: string, el: XmlElement, route: () => Promise<void>, released?: Promise<void>): Promise<void> {
    const lane = this.lane(link, el);
    return new Promise<void>((resolve, reject) => {
      lane.waiting.push(() => {
        lane.open++;
        let p: Promise<void>;
        try {
          p = route();
        } catch (err) {
          p = Promise.reject(err as Error);
        }
        const free = (): void => {
          if (released) void released.then(() => this.settled(lane), () => this.settled(lane));
          else this.settled(lane);
        };
        p.then(
          () => {
            free();
            resolve();
          },
          (err: unknown) => {
            free();
            reject(err as Error);
          },
        );
      });
      this.pump(lane);
    });
  }

  /** A route of the lane settled: the window has room for the next. */
  private settled(lane: Lane): void {
    lane.open--;
    this.pump(lane);
    this.forget(lane);
  }

  /**
   * Writes a stanza to a local server, trying again while it may still wait
   * (see above). `link`: a stanza from that in-order link (its lane).
   */
  deliver(el: XmlElement, link?: string): Promise<void> {
    if (link === undefined) return this.track(this.withRetries(el));
    const lane = this.lane(link, el);
    lane.active++;
    const p = this.withRetries(el, lane, lane.seq++);
    this.delivering.add(p);
    p.then(
      () => this.delivered(p, lane),
      () => this.delivered(p, lane),
    );
    return p;
  }

  private delivered(p: Promise<void>, lane: Lane): void {
    this.delivering.delete(p);
    lane.active--;
    this.forget(lane);
  }

  private track(p: Promise<void>): Promise<void> {
    this.delivering.add(p);
    p.then(
      () => void this.delivering.delete(p),
      () => void this.delivering.delete(p),
    );
    return p;
  }

  /** The first attempt without an async frame (it nearly always succeeds); retries in retry(). */
  private withRetries(el: XmlElement, lane?: Lane, seq = 0): Promise<void> {
    const deadline = this.o.clock.now() + this.o.holdMs;
    let sent: Promise<void>;
    try {
      sent = this.o.send(el);
    } catch (err) {
      sent = Promise.reject(err as Error);
    }
    return sent.then(undefined, (err: unknown) => this.retry(el, lane, seq, deadline, err));
  }

  private async retry(el: XmlElement, lane: Lane | undefined, seq: number, deadline: number, first: unknown): Promise<void> {
    const { clock, metrics } = this.o;
    let delay = RETRY_FIRST_MS;
    let err = first;
    for (;;) {
      if (this.stopping) throw new RelayStoppingError(err as Error);
      if (!(err instanceof StanzaError) || !RETRYABLE.has(err.condition) || clock.now() + delay > deadline) throw err;
      this.o.failed(`local delivery to ${el.attr('to')}: ${err.condition}`);
      metrics.inc('local_delivery_retries_total', { condition: err.condition });
      if (lane) {
        await this.resendLater(lane, seq, delay);
        lane.waking--;
      } else await this.nap(delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      if (this.stopping) throw new RelayStoppingError();
      try {
        const sent = this.o.send(el);
        // Written again: once the lane's last one is, new stanzas may follow.
        if (lane) this.pump(lane);
        await sent;
        return;
      } catch (e) {
        err = e;
      }
    }
  }

  /** The lane of `link` for the stanza's destination domain. */
  private lane(link: string, el: XmlElement): Lane {
    let byDomain = this.lanes.get(link);
    if (!byDomain) this.lanes.set(link, (byDomain = new Map()));
    const domain = domainOf(el.attr('to')) ?? '';
    let lane = byDomain.get(domain);
    if (!lane) {
      lane = { link, domain, waiting: [], next: 0, open: 0, active: 0, seq: 0, resend: [], waking: 0 };
      byDomain.set(domain, lane);
    }
    return lane;
  }

  private forget(lane: Lane): void {
    if (lane.open > 0 || lane.active > 0 || lane.next < lane.waiting.length || lane.resend.length > 0) return;
    const byDomain = this.lanes.get(lane.link);
    if (byDomain?.get(lane.domain) === lane) byDomain.delete(lane.domain);
  }

  /** Starts waiting routes while the window has room and nothing waits to be written again. */
  private pump(lane: Lane): void {
    while (lane.next < lane.waiting.length && lane.open < this.window && lane.resend.length === 0 && lane.waking === 0) {
      const start = lane.waiting[lane.next]!;
      lane.waiting[lane.next++] = undefined;
      if (lane.next === lane.waiting.length) {
        lane.waiting = [];
        lane.next = 0;
      } else if (lane.next >= 1024 && lane.next * 2 >= lane.waiting.length) {
        lane.waiting = lane.waiting.slice(lane.next);
        lane.next = 0;
      }
      start();
    }
  }

  /** Resolves once `delay` has passed and every earlier stanza of the lane waiting to be written again has been woken. */
  private resendLater(lane: Lane, seq: number, delay: number): Promise<void> {
    return new Promise<void>((wake) => {
      const r: Resend = { seq, due: this.o.clock.now() + delay, wake };
      let i = lane.resend.length;
      while (i > 0 && lane.resend[i - 1].seq > seq) i--;
      lane.resend.splice(i, 0, r);
      this.release(lane);
    });
  }

  /** Wakes the lane's due resends from the oldest on; the first not due holds those behind it. */
  private release(lane: Lane): void {
    lane.cancel?.();
    lane.cancel = undefined;
    const now = this.o.clock.now();
    while (lane.resend.length > 0 && (this.stopping || lane.resend[0].due <= now)) {
      lane.waking++;
      lane.resend.shift()!.wake();
    }
    if (lane.resend.length > 0) lane.cancel = this.o.clock.schedule(lane.resend[0].due - now, () => this.release(lane));
  }

  /** Sleeps ms on the clock, or until stop(). */
  private nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let cancel: Cancel | undefined;
      const wake = (): void => {
        cancel?.();
        this.sleepers.delete(wake);
        resolve();
      };
      cancel = this.o.clock.schedule(ms, wake);
      this.sleepers.add(wake);
    });
  }

  /** No more retries; waiting ones give up now. */
  stop(): void {
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    for (const byDomain of this.lanes.values()) for (const lane of byDomain.values()) this.release(lane);
  }

  /** Waits up to maxMs for deliveries under way (bounces of stopped links among them). */
  async settle(maxMs: number): Promise<void> {
    const { clock } = this.o;
    const deadline = clock.now() + maxMs;
    while (this.delivering.size > 0) {
      const left = deadline - clock.now();
      if (left <= 0) {
        this.o.log.warn({ pending: this.delivering.size }, 'stopping with local deliveries still unconfirmed');
        return;
      }
      let cancel: Cancel | undefined;
      const timeout = new Promise<void>((r) => (cancel = clock.schedule(left, r)));
      await Promise.race([Promise.allSettled([...this.delivering]), timeout]);
      cancel?.();
    }
  }
}

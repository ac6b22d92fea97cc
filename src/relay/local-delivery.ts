/**
 * Local delivery: stanzas from the far side (and those the relay makes) to
 * the local servers. The one owner of:
 *  - order: for a link that asks for it (RelayLink.deliverInOrder), its
 *    stanzas for one destination domain go one after the other, each once the one
 *    before is written to its local server (XEP-0198 acked) or bounced, so a
 *    local server that goes away has at most one unconfirmed stanza, which
 *    the durable link sends again after a restart;
 *  - retry: while a local server cannot be reached, a stanza is tried again
 *    with back-off (1 s, doubling to 30 s) for up to the hold time
 *    (limits.held_stanza_timeout_s); then the error goes to the caller;
 *  - stop: a first attempt still goes (shutdown's own bounces must reach
 *    their senders), nothing is retried (RelayStoppingError: a durable link
 *    keeps the stanza), and stop waits a bounded time for what is under way.
 * Every wait runs on the given clock (time/).
 */
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
}

export class LocalDelivery {
  private stopping = false;
  /** Per link and destination domain, the last ordered delivery (settled: the next may start). */
  private readonly chains = new Map<string, Promise<unknown>>();
  /** Deliveries under way (stop waits for them). */
  private readonly delivering = new Set<Promise<void>>();
  /** Retry waits, cut short at stop. */
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly o: LocalDeliveryOptions) {}

  /**
   * Runs `route` (the router's handling of one stanza from `link`) once every
   * earlier call for the same link and destination domain has settled,
   * whatever its outcome.
   */
  inOrder(link: string, el: XmlElement, route: () => Promise<void>): Promise<void> {
    const key = `${link}\0${domainOf(el.attr('to')) ?? ''}`;
    const next = (this.chains.get(key) ?? Promise.resolve()).then(route);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(key, settled);
    void settled.then(() => {
      if (this.chains.get(key) === settled) this.chains.delete(key);
    });
    return next;
  }

  /** Writes a stanza to a local server, trying again while it may still wait (see above). */
  deliver(el: XmlElement): Promise<void> {
    const p = this.withRetries(el);
    this.delivering.add(p);
    const done = (): void => void this.delivering.delete(p);
    p.then(done, done);
    return p;
  }

  private async withRetries(el: XmlElement): Promise<void> {
    const { clock, metrics } = this.o;
    const deadline = clock.now() + this.o.holdMs;
    let delay = RETRY_FIRST_MS;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping && attempt > 0) throw new RelayStoppingError();
      try {
        await this.o.send(el);
        return;
      } catch (err) {
        if (this.stopping) throw new RelayStoppingError(err as Error);
        if (!(err instanceof StanzaError) || !RETRYABLE.has(err.condition) || clock.now() + delay > deadline) throw err;
        this.o.failed(`local delivery to ${el.attr('to')}: ${err.condition}`);
        metrics.inc('local_delivery_retries_total', { condition: err.condition });
        await this.nap(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
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

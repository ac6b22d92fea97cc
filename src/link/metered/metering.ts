/**
 * A link's metering: the meter (meter.ts), the scheduler gate
 * (scheduler.ts), the day's spend on disk (spend-file.ts), metrics and log
 * lines, wired to the link that counts the bytes.
 *
 * The link host calls attach() once its core exists (the core's byte and
 * frame counters; a way to wake the outbox), tick() on its timer and close()
 * at stop. Whoever picks the bearer calls setBearer() when it changes (today:
 * once, the link's single bearer, named by its profile).
 */
import type { StanzaClass } from '../../config/metered.ts';
import type { XmlElement } from '../../xml/element.ts';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';
import type { MeteredStatus, OutboundScheduler } from '../port.ts';
import { BearerMeter, type MeteredSettings } from './meter.ts';
import { MeteredScheduler } from './scheduler.ts';
import { readSpend, writeSpend } from './spend-file.ts';

/** The link counters metering reads (the core's stats()). */
export interface ByteCounters {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
}

export interface MeteringOptions {
  link: string;
  /** The bearer in use at start and its settings (null: not metered). */
  bearer: string;
  settings: MeteredSettings | null;
  /** policy.urgent. */
  isUrgent(el: XmlElement): boolean;
  /** Bytes each frame costs on the bearer besides its own (IPv4 + UDP headers on udp: 28). */
  frameOverheadBytes: number;
  /** data_dir/link-state/<link>.metered.json; absent: the spend is not kept across restarts. */
  stateFile?: string;
  /** Wall-clock ms (default Date.now): the UTC day. */
  wall?: () => number;
  metrics: Metrics;
  logger: Logger;
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(3)} MB`;

export class Metering {
  readonly meter = new BearerMeter();
  private readonly wall: () => number;
  private readonly log: Logger;
  private readonly audit: Logger;
  private sched?: MeteredScheduler;
  private counters?: () => ByteCounters;
  private wake?: () => void;
  private lastTotal = 0;
  private savedVersion = -1;
  private wasSpent = false;
  private syncedAt = -Infinity;

  constructor(private readonly o: MeteringOptions) {
    this.wall = o.wall ?? Date.now;
    const log = o.logger.child({ link: o.link });
    this.log = log.child({ part: 'metered' });
    this.audit = log.child({ audit: true });
    const now = this.wall();
    if (o.stateFile) this.meter.restore(readSpend(o.stateFile, this.log, now), now);
    this.meter.setBearer(o.bearer, o.settings, now);
    this.wasSpent = this.meter.spentNow(now);
    this.savedVersion = this.meter.version;
    o.metrics.onCollect(() => this.collect());
    const s = this.meter.snapshot(now);
    if (s.metered) {
      this.log.info(
        { bearer: s.bearer, carry: s.carry, budgetBytes: s.budgetBytes, bytesToday: s.bytesToday, costToday: Number(s.costToday.toFixed(2)), currency: s.currency },
        `metered bearer ${s.bearer}: carries ${s.carry?.join(', ')}; ${mb(s.bytesToday)} of ${mb(s.budgetBytes!)} used today`,
      );
    }
  }

  /** The link's outbound scheduler: `make` gives the inner one per stanza class (the relay's OutboundQueue). */
  scheduler(make: (cls: StanzaClass) => OutboundScheduler): MeteredScheduler {
    const { metrics, link } = this.o;
    this.sched = new MeteredScheduler({
      make,
      meter: this.meter,
      isUrgent: this.o.isUrgent,
      wall: this.wall,
      // Within a burst (one pack of the outbox) the counters are read once per 100 ms at most.
      sync: (now) => {
        if (now - this.syncedAt >= 100 || now < this.syncedAt) this.sync(now);
      },
      onHeld: (cls) => metrics.inc('metered_held_total', { link, class: cls }),
      onRefused: (el, cls) => this.refused(el, cls),
      onUrgent: () => metrics.inc('metered_urgent_total', { link, bearer: this.meter.current }),
    });
    return this.sched;
  }

  /** The link's core exists: its counters, and how to make the outbox look at the queue again. */
  attach(counters: () => ByteCounters, wake: () => void): void {
    this.counters = counters;
    this.lastTotal = this.total(counters());
    this.wake = wake;
  }

  /** The bearer in use, or its settings, changed (the bearer selection calls this). */
  setBearer(bearer: string, settings: MeteredSettings | null, now = this.wall()): void {
    this.sync(now);
    if (!this.meter.setBearer(bearer, settings, now)) return;
    this.log.info({ bearer, metered: settings !== null }, settings ? `now on metered bearer ${bearer}: carries ${settings.carry.join(', ')}` : `now on unmetered bearer ${bearer}: everything waiting may go`);
    this.wasSpent = this.meter.spentNow(now);
    this.wake?.();
  }

  /** The link's timer: count, keep the spend on disk, wake the outbox on a new UTC day. */
  tick(now = this.wall()): void {
    this.sync(now);
    const spent = this.meter.spentNow(now);
    if (this.wasSpent && !spent) {
      this.wasSpent = false;
      this.log.info({ bearer: this.meter.current, day: this.meter.snapshot(now).day }, 'new UTC day: the metered bearer\'s budget starts again');
      this.wake?.();
    }
    this.save(now);
  }

  status(now = this.wall()): MeteredStatus {
    this.sync(now);
    return { ...this.meter.snapshot(now), held: this.sched?.held() ?? 0 };
  }

  /** Cost so far today on `bearer` (current or not); undefined: not metered. */
  costToday(bearer: string, now = this.wall()): number | undefined {
    this.sync(now);
    const s = this.meter.snapshotOf(bearer, now);
    return s.metered ? s.costToday : undefined;
  }

  close(now = this.wall()): void {
    this.sync(now);
    this.save(now);
  }

  /** Brings the meter up to date with the link's counters. */
  private sync(now: number): void {
    this.syncedAt = now;
    if (!this.counters) return;
    const total = this.total(this.counters());
    // A new core counts from 0 again: what it counted so far is new.
    const delta = total < this.lastTotal ? total : total - this.lastTotal;
    this.lastTotal = total;
    if (delta <= 0) return;
    const bearer = this.meter.current;
    const before = this.meter.snapshot(now);
    this.meter.sent(bearer, delta, now);
    if (!before.metered) return;
    this.o.metrics.inc('metered_bytes_total', { link: this.o.link, bearer }, delta);
    if (!this.wasSpent && this.meter.spentNow(now)) {
      this.wasSpent = true;
      const s = this.meter.snapshot(now);
      this.log.warn(
        { bearer, bytesToday: s.bytesToday, budgetBytes: s.budgetBytes, costToday: Number(s.costToday.toFixed(2)), currency: s.currency },
        `metered bearer ${bearer}: the daily budget of ${mb(s.budgetBytes!)} is spent; until 00:00 UTC only urgent stanzas cross, the rest are refused with resource-constraint`,
      );
    }
  }

  private total(c: ByteCounters): number {
    return c.bytesSent + c.bytesReceived + this.o.frameOverheadBytes * (c.framesSent + c.framesReceived);
  }

  private refused(el: XmlElement, cls: StanzaClass): void {
    const s = this.meter.snapshot(this.wall());
    this.o.metrics.inc('metered_refused_total', { link: this.o.link, bearer: s.bearer });
    this.audit.info(
      { direction: 'to_link', bearer: s.bearer, from: el.attr('from'), to: el.attr('to'), id: el.attr('id'), kind: el.local, class: cls, reason: 'metered_budget_spent', bytesToday: s.bytesToday, budgetBytes: s.budgetBytes },
      'metered bearer budget spent: refused a stanza',
    );
  }

  private save(now: number): void {
    if (!this.o.stateFile || this.meter.version === this.savedVersion) return;
    try {
      writeSpend(this.o.stateFile, this.meter.spend(now));
      this.savedVersion = this.meter.version;
    } catch (err) {
      this.o.metrics.inc('link_state_errors_total', { link: this.o.link });
      this.log.error({ err: (err as Error).message, file: this.o.stateFile }, 'cannot keep the metered bearer\'s spend of the day on disk: a restart would count today from what was kept last');
    }
  }

  private collect(): void {
    const now = this.wall();
    this.sync(now);
    const { metrics, link } = this.o;
    for (const bearer of this.meter.bearers()) {
      const s = this.meter.snapshotOf(bearer, now);
      if (!s.metered) continue;
      metrics.set('metered_cost_today', s.costToday, { link, bearer });
      metrics.set('metered_budget_remaining_bytes', s.remainingBytes ?? 0, { link, bearer });
    }
    metrics.set('metered_held_stanzas', this.sched?.held() ?? 0, { link });
  }
}

/**
 * One link over several bearers: one sans-IO core (one session, sequence
 * space, spool and delivery ledger), one driver per bearer, and the
 * BearerSelector (select.ts) choosing which one the core's frames go on.
 *
 * Each bearer's driver sees the core through a BearerPort: frames it
 * receives go to the core whatever the bearer (so a stanza is delivered once
 * whichever carried it); only the current bearer's port gives out the core's
 * frames and runs its timeouts; the others give out bearer probes. On a
 * switch the core takes the new bearer's tuning and resends what was in
 * flight (LinkEndpoint.useBearer). Each bearer's driver keeps its own
 * transport state: a udp end without peer learns and follows the partner's
 * address per bearer (roaming.ts), a tcp dialler re-dials its own.
 */
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { SystemClock, type Cancel, type Clock } from '../../time/index.ts';
import type { LinkTuning } from '../core/index.ts';
import type { DriverBaseOptions, DriverFactory, DriverHooks, LinkDriver, LinkEndpointLike } from '../drivers/index.ts';
import type { ConnectFailure } from '../drivers/connect-watch.ts';
import { BearerSelector, type BearerChange } from './select.ts';
import type { BearerAccounting, BearerStatus } from './status.ts';

/** The core as a multi-bearer link drives it (LinkEndpoint has these). */
export interface BearerEndpoint extends LinkEndpointLike {
  useBearer(now: number, index: number, tuning: LinkTuning): void;
  bearerProbe(now: number): Buffer | undefined;
}

export interface BearerDef {
  /** "1:starlink-maritime": position (1 = primary) and profile. */
  name: string;
  profile: string;
  transport: string;
  driver: DriverFactory;
  /** The core's tuning on this bearer (its profile). */
  tuning: LinkTuning;
  downAfterMs: number;
  probeMs: number;
}

export interface MultiOptions {
  bearers: readonly BearerDef[];
  /** failback_hold_s, ms. */
  holdDownMs: number;
  /** Cost so far today per bearer (metered bearers); absent: none shown. */
  accounting?: BearerAccounting;
  /** Told each switch, after the core moved to bearer `index` (e.g. metering's setBearer: what the new bearer carries). */
  onSwitch?(bearer: BearerDef, index: number): void;
}

export class MultiBearerDriver implements LinkDriver {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly link: string;
  private readonly sel: BearerSelector;
  private readonly subs: LinkDriver[];
  private readonly probe: boolean[];
  private readonly bytes: Array<{ sent: number; received: number }>;
  private readonly started: boolean[];
  private timer: Cancel | undefined;
  private timerAt = Infinity;
  private closed = false;
  private readonly counts = { failovers: 0, failbacks: 0 };
  /** Each bearer's metric labels, made once (the per-frame counters use them). */
  private readonly bearerLabels: Array<{ link: string; bearer: string }>;

  constructor(
    private readonly endpoint: BearerEndpoint,
    private readonly o: MultiOptions,
    base: DriverBaseOptions,
    private readonly hooks: DriverHooks,
  ) {
    this.clock = base.clock ?? new SystemClock();
    this.log = base.logger ?? silentLogger;
    this.metrics = base.metrics ?? new Metrics();
    this.link = base.name ?? '';
    this.bearerLabels = o.bearers.map((b) => ({ link: this.link, bearer: b.name }));
    const now = this.clock.now();
    this.sel = new BearerSelector(o.bearers.map((b) => ({ name: b.name, downAfterMs: b.downAfterMs, probeMs: b.probeMs })), o.holdDownMs, now);
    this.probe = o.bearers.map(() => false);
    this.bytes = o.bearers.map(() => ({ sent: 0, received: 0 }));
    this.started = o.bearers.map(() => false);
    this.subs = o.bearers.map((b, i) =>
      b.driver.create(this.port(i), { ...base, clock: this.clock }, {
        onEvents: () => this.onSubEvents(i),
        onSent: () => hooks.onSent?.(),
        onTransport: (up) => {
          this.log.info({ bearer: b.name, up }, `bearer ${b.name}: transport ${b.driver.where(up)}`);
          if (i === this.sel.current) hooks.onTransport?.(up);
        },
      }),
    );
    this.gauges();
  }

  /** The core as bearer i's driver sees it. */
  private port(i: number): LinkEndpointLike {
    const ep = this.endpoint;
    return {
      handleFrame: (now, frame) => {
        const r = ep.handleFrame(now, frame);
        if (r === true) {
          this.bytes[i].received += frame.length;
          this.metrics.tally('link_bearer_bytes_received_total', this.bearerLabels[i], frame.length);
          this.sel.heard(i, now);
          this.evaluate(now);
        }
        return r;
      },
      handleTimeout: (now) => {
        if (i === this.sel.current) ep.handleTimeout(now);
      },
      pollTransmit: (now) => {
        let frame: Buffer | undefined;
        if (this.probe[i]) {
          this.probe[i] = false;
          frame = ep.bearerProbe(now);
          if (frame) this.metrics.tally('link_bearer_probes_total', this.bearerLabels[i]);
        } else if (i === this.sel.current) frame = ep.pollTransmit(now);
        if (!frame) return undefined;
        this.sel.sent(i, now);
        this.bytes[i].sent += frame.length;
        this.metrics.tally('link_bearer_bytes_sent_total', this.bearerLabels[i], frame.length);
        return frame;
      },
      pollTimeout: () => (i === this.sel.current ? ep.pollTimeout() : undefined),
    };
  }

  /** Bearer i's driver took input: the owner reads the core's events; what they owe goes on the current bearer. */
  private onSubEvents(i: number): void {
    this.hooks.onEvents();
    if (i !== this.sel.current) this.subs[this.sel.current].poke();
  }

  async start(): Promise<void> {
    const results = await Promise.allSettled(this.subs.map((d) => d.start()));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') this.started[i] = true;
      else this.log.error({ bearer: this.o.bearers[i].name, err: (r.reason as Error).message }, `bearer ${this.o.bearers[i].name} could not start: the link goes on without it`);
    });
    if (!this.started.some(Boolean)) throw (results[0] as PromiseRejectedResult).reason;
    this.log.info({ bearers: this.o.bearers.map((b) => b.name), current: this.o.bearers[0].name }, `link over ${this.o.bearers.length} bearers, in order of preference`);
    this.tick();
  }

  /** The selector's deadline came (or a frame was heard): switch if due, send the probes due, re-arm. */
  private tick(): void {
    if (this.closed) return;
    const now = this.clock.now();
    this.evaluate(now);
    for (const i of this.sel.probesDue(now)) {
      if (!this.started[i]) continue;
      this.probe[i] = true;
      this.subs[i].poke();
    }
    this.arm();
  }

  private arm(): void {
    const at = this.sel.nextDeadline();
    if (at === this.timerAt && this.timer) return;
    this.timer?.();
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.clock.schedule(Math.max(0, at - this.clock.now()), () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.tick();
    });
  }

  private evaluate(now: number): void {
    const change = this.sel.poll(now);
    for (const t of this.sel.takeTransitions()) {
      const b = this.o.bearers[t.bearer];
      this.metrics.set('link_bearer_up', t.up ? 1 : 0, this.bearerLabels[t.bearer]);
      this.log.info({ bearer: b.name }, t.up ? `bearer ${b.name} up: the partner is heard on it` : `bearer ${b.name} declared down: nothing heard on it for ${b.downAfterMs / 1000} s`);
    }
    if (change) this.apply(now, change);
    else if (this.timer && this.sel.nextDeadline() < this.timerAt) this.arm();
  }

  private apply(now: number, c: BearerChange): void {
    const to = this.o.bearers[c.to];
    this.endpoint.useBearer(now, c.to, to.tuning);
    if (c.kind === 'failover') {
      this.counts.failovers++;
      this.metrics.inc('link_bearer_failovers_total', this.bearerLabels[c.to]);
    } else {
      this.counts.failbacks++;
      this.metrics.inc('link_bearer_failbacks_total', this.bearerLabels[c.to]);
    }
    this.log.warn({ kind: c.kind, from: this.o.bearers[c.from].name, to: to.name, cause: c.cause }, `link ${c.kind} to bearer ${to.name}: ${c.cause}`);
    this.gauges();
    this.o.onSwitch?.(to, c.to);
    this.subs[c.to].poke();
    this.arm();
  }

  private gauges(): void {
    this.o.bearers.forEach((_, i) => {
      this.metrics.set('link_bearer_current', i === this.sel.current ? 1 : 0, this.bearerLabels[i]);
      this.metrics.set('link_bearer_up', this.sel.isUp(i) ? 1 : 0, this.bearerLabels[i]);
    });
  }

  poke(): void {
    if (!this.closed) this.subs[this.sel.current].poke();
  }

  failing(): ConnectFailure | undefined {
    return this.subs[this.sel.current].failing?.();
  }

  /** Each bearer for status: up, current, bytes, cost so far today (metered). */
  bearers(): BearerStatus[] {
    return this.o.bearers.map((b, i) => {
      const costToday = this.o.accounting?.costToday(b.name);
      return {
        name: b.name,
        profile: b.profile,
        transport: b.transport,
        up: this.sel.isUp(i),
        current: i === this.sel.current,
        bytesSent: this.bytes[i].sent,
        bytesReceived: this.bytes[i].received,
        ...(costToday !== undefined ? { costToday } : {}),
      };
    });
  }

  /** Failovers and failbacks so far (benchmarks). */
  switches(): { failovers: number; failbacks: number } {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.();
    await Promise.all(this.subs.map((d, i) => (this.started[i] ? d.close() : Promise.resolve())));
  }
}

/**
 * Runs a LinkEmulator against the wall clock with one timer: engine time is
 * ms since start (performance.now()), deliveries are handed to `deliver` when due.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../obs/log.ts';
import { silentLogger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { DIRECTIONS, LinkEmulator, type BearerParams, type Delivery, type DirStats, type Direction, type LossModel, type SendKind } from '../engine.ts';

export interface DriverOptions {
  params: BearerParams;
  seed: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** Faults injected while the emulator runs (soak and fault tests). */
export interface EmulatorControl {
  /** Both directions go dark for `ms` from now (datagrams lost, stream chunks held). */
  outage(ms: number): void;
  /** Replaces the loss model from now on; undefined: back to the profile's; null: no loss. */
  setLoss(loss: LossModel | null | undefined): void;
  /** The NAT (bearer.nat) gives its side a new source port now. */
  rebind(): void;
  /** The NAT's live mapping and rebinds so far; undefined without bearer.nat. */
  nat(): { mapping: number; rebinds: number } | undefined;
}

/** What every driver returns. */
export interface EmulatorHandle {
  /** A copy of the counters per direction. */
  stats(): { ab: DirStats; ba: DirStats };
  /** One line per direction: sent, delivered, dropped by cause, corrupted, delayed. */
  summary(): string;
  close(): Promise<void>;
}

export class RealtimeRunner {
  readonly engine: LinkEmulator;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private closed = false;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private exported: Record<Direction, DirStats>;

  constructor(opts: DriverOptions, private readonly deliver: (d: Delivery) => void) {
    this.engine = new LinkEmulator(opts.params, opts.seed);
    this.metrics = opts.metrics ?? new Metrics();
    this.logger = opts.logger ?? silentLogger;
    this.exported = structuredClone(this.engine.stats);
  }

  now(): number {
    return performance.now() - this.t0;
  }

  send(dir: Direction, data: Buffer, kind: SendKind, tag?: number, to?: number): void {
    if (this.closed) return;
    this.engine.send(this.now(), dir, data, kind, tag, to);
    this.exportMetrics();
    this.arm();
  }

  stats(): { ab: DirStats; ba: DirStats } {
    return structuredClone(this.engine.stats);
  }

  /** Runtime faults on the engine, in wall-clock terms. */
  readonly control: EmulatorControl = {
    outage: (ms) => {
      this.engine.addOutage(this.now(), ms);
      this.logger.info({ ms }, 'emulator: outage injected');
    },
    setLoss: (loss) => {
      this.engine.setLoss(loss);
      this.logger.info({ loss: loss === undefined ? 'profile' : loss }, 'emulator: loss model set');
    },
    rebind: () => {
      this.engine.rebind();
      this.logger.info(this.engine.natState(this.now()), 'emulator: NAT rebinding injected');
    },
    nat: () => this.engine.natState(this.now()),
  };

  summary(): string {
    return formatSummary(this.engine.stats);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Keeps the single timer pointed at the engine's next delivery. */
  private arm(): void {
    const next = this.engine.nextTimeout();
    if (next === undefined || this.closed) return;
    if (this.timer && this.timerAt <= next) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.fire(), Math.max(0, Math.ceil(next - this.now())));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    for (const d of this.engine.poll(this.now())) {
      try {
        this.deliver(d);
      } catch (err) {
        this.logger.warn({ err, dir: d.dir }, 'emulator delivery failed');
        this.metrics.inc('emulator_delivery_errors_total', { dir: d.dir });
      }
    }
    this.exportMetrics();
    this.arm();
  }

  /** Mirrors engine counters into Metrics (counters grow by the delta since last export). */
  private exportMetrics(): void {
    for (const dir of DIRECTIONS) {
      const cur = this.engine.stats[dir];
      const prev = this.exported[dir];
      for (const k of Object.keys(cur) as Array<keyof DirStats>) {
        const delta = cur[k] - prev[k];
        if (delta > 0 && !k.startsWith('latency') && k !== 'busy_ms') this.metrics.inc(`emulator_${k}_total`, { dir }, delta);
      }
      this.exported[dir] = { ...cur };
    }
  }
}

export function formatSummary(stats: { ab: DirStats; ba: DirStats }): string {
  return DIRECTIONS.map((dir) => {
    const s = stats[dir];
    return (
      `${dir}: sent ${s.sent} (${s.bytes_sent} B) delivered ${s.delivered} (${s.bytes_delivered} B)` +
      ` dropped loss=${s.dropped_loss} mtu=${s.dropped_mtu} queue=${s.dropped_queue} outage=${s.dropped_outage} nat=${s.dropped_nat}` +
      ` corrupted ${s.corrupted_packets} (${s.bits_flipped} bits) dup ${s.duplicated} reordered ${s.reordered}` +
      ` delayed-by-outage ${s.delayed_outage} latency avg ${s.delivered ? (s.latency_ms_sum / s.delivered).toFixed(0) : '-'} ms` +
      ` max ${s.latency_ms_max.toFixed(0)} ms busy ${(s.busy_ms / 1000).toFixed(1)} s`
    );
  }).join('\n');
}

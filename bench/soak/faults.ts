/**
 * Soak faults: what can go wrong on a relay pair in the field, one at a
 * time, on a schedule drawn from a seeded RNG (same seed, same schedule).
 *
 *  outage        the bearer goes dark both ways (seconds to a minute)
 *  loss-burst    heavy datagram loss for a while (Bernoulli p 0.3-0.9)
 *  kill-relay    kill -9 of relay A or B, restarted after a pause
 *  server-restart  a site's XMPP server stops and comes back on its port
 *  disk-full     the relay's data_dir (a small tmpfs) fills up (ENOSPC) while the bearer
 *                is down (so the spool must grow), then is freed
 */
import { Rng } from '../../src/emulator/index.ts';
import type { Side } from '../../src/sim/index.ts';

export const FAULT_KINDS = ['outage', 'loss-burst', 'kill-relay', 'server-restart', 'disk-full'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** which site: the relay killed, the server restarted, the disk filled (outage/loss: both). */
  side: Side;
  /** how long the fault lasts (outage, burst, disk full) or the victim stays down, ms. */
  durationMs: number;
  /** loss-burst: the loss probability. */
  lossP?: number;
}

export interface ScheduleOptions {
  seed: number;
  /** faults start from `startMs` until `endMs` (ms since the run started). */
  startMs: number;
  endMs: number;
  /** quiet time between the end of one fault and the start of the next, ms. */
  gapMs: [number, number];
  kinds?: readonly FaultKind[];
}

/** Ranges (ms) per kind for random schedules. */
const DURATION: Record<FaultKind, [number, number]> = {
  outage: [3_000, 60_000],
  'loss-burst': [5_000, 30_000],
  'kill-relay': [1_000, 10_000],
  'server-restart': [1_000, 10_000],
  'disk-full': [10_000, 40_000],
};

/** A seeded random fault of `kind` (side, duration, loss). */
export function randomFault(rng: Rng, kind: FaultKind): Fault {
  const [lo, hi] = DURATION[kind];
  const f: Fault = { kind, side: rng.chance(0.5) ? 'a' : 'b', durationMs: Math.round(rng.uniform(lo, hi)) };
  if (kind === 'loss-burst') f.lossP = Math.round(rng.uniform(0.3, 0.9) * 100) / 100;
  return f;
}

/**
 * Draws faults lazily: next(now) gives the next fault and the gap to wait
 * before it. Kinds come from a shuffled bag (every kind once per round), so
 * a run of a few rounds meets each of them.
 */
export class FaultSchedule {
  private readonly rng: Rng;
  private readonly kinds: readonly FaultKind[];
  private bag: FaultKind[] = [];
  constructor(private readonly o: ScheduleOptions) {
    this.rng = new Rng(o.seed ^ 0x5eed_fa17);
    this.kinds = o.kinds ?? FAULT_KINDS;
  }

  /** The next fault and the quiet gap before it; undefined once past endMs. */
  next(nowMs: number): { gapMs: number; fault: Fault } | undefined {
    const gapMs = Math.round(this.rng.uniform(this.o.gapMs[0], this.o.gapMs[1]));
    if (this.bag.length === 0) {
      this.bag = [...this.kinds];
      for (let i = this.bag.length - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        [this.bag[i], this.bag[j]] = [this.bag[j], this.bag[i]];
      }
    }
    const fault = randomFault(this.rng, this.bag.pop()!);
    const start = Math.max(nowMs + gapMs, this.o.startMs);
    if (start + Math.min(fault.durationMs, 5_000) > this.o.endMs) return undefined;
    // A fault never runs past the end of the fault phase.
    fault.durationMs = Math.min(fault.durationMs, Math.max(1_000, this.o.endMs - start));
    return { gapMs: start - nowMs, fault };
  }
}

/** Parses a forced schedule "outage:3000,kill-relay:a:1000,..." (kind[:side][:ms][:p]). */
export function parseFaults(spec: string): Fault[] {
  return spec
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const bits = part.split(':');
      const kind = bits[0] as FaultKind;
      if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind "${bits[0]}" (one of ${FAULT_KINDS.join(', ')})`);
      let side: Side = 'a';
      let rest = bits.slice(1);
      if (rest[0] === 'a' || rest[0] === 'b') {
        side = rest[0];
        rest = rest.slice(1);
      }
      const durationMs = rest[0] ? Number(rest[0]) : DURATION[kind][0];
      if (!(durationMs > 0)) throw new Error(`bad duration in fault "${part}"`);
      const f: Fault = { kind, side, durationMs };
      if (kind === 'loss-burst') f.lossP = rest[1] ? Number(rest[1]) : 0.6;
      return f;
    });
}

export function describeFault(f: Fault): string {
  const who = f.kind === 'outage' || f.kind === 'loss-burst' ? 'bearer' : f.kind === 'server-restart' ? `server ${f.side.toUpperCase()}` : `relay ${f.side.toUpperCase()}`;
  return `${f.kind} (${who}, ${(f.durationMs / 1000).toFixed(1)} s${f.lossP !== undefined ? `, p=${f.lossP}` : ''})`;
}

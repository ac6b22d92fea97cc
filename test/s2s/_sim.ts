/**
 * Simulated time for S2S sessions (S2SRuntime): timers fire only when a test
 * advances the clock, in deadline order; deferral stays real (it is ordering,
 * not time) and stream ids come from the seeded PRNG.
 */
import { Rng } from '../../src/emulator/rng.ts';
import type { RuntimeTimer, S2SRuntime } from '../../src/s2s/index.ts';

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

export class SimRuntime implements S2SRuntime {
  private t = 1_000_000;
  private seq = 0;
  private entries: Entry[] = [];
  private readonly rng: Rng;

  constructor(seed = 1) {
    this.rng = new Rng(seed);
  }

  now = (): number => this.t;

  after = (ms: number, fn: () => void): RuntimeTimer => {
    const e: Entry = { at: this.t + ms, seq: this.seq++, fn, live: true };
    this.entries.push(e);
    return { cancel: () => void (e.live = false) };
  };

  soon = (fn: () => void): void => void setImmediate(fn);
  tick = (fn: () => void): void => process.nextTick(fn);

  random = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.u32() & 0xff;
    return b;
  };

  /** Deadlines of the timers still set, relative to now. */
  pending(): number[] {
    return this.entries.filter((e) => e.live).map((e) => e.at - this.t).sort((a, b) => a - b);
  }

  /** Moves the clock `ms` forward, firing each due timer at its own deadline (I/O callbacks run between them). */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.entries = this.entries.filter((e) => e.live);
      const next = this.entries.filter((e) => e.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.t = next.at;
      next.live = false;
      next.fn();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
    await new Promise((r) => setImmediate(r));
  }
}

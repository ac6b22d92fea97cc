/**
 * The clock a host passes to its parts: monotonic time for protocol timers,
 * wall time for what is kept on disk, and one-shot timers. SystemClock runs
 * every timer of one host on one Node timer; ManualClock is simulated time
 * (tests, simulation): nothing fires until advance() moves it.
 */
import { performance } from 'node:perf_hooks';

/** Cancels a scheduled call (a no-op once it ran). */
export type Cancel = () => void;

export interface Clock {
  /** Monotonic milliseconds (float): the unit of every protocol deadline. */
  now(): number;
  /** Milliseconds since the epoch: times written to disk (a stanza's accept time). */
  wall(): number;
  /** Calls fn once, delayMs (>= 0) from now. */
  schedule(delayMs: number, fn: () => void): Cancel;
}

/** Resolves after ms on the given clock. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => void clock.schedule(ms, resolve));
}

interface Entry {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** A min-heap on (time, order of scheduling); cancelled entries are dropped lazily. */
class TimerTable {
  private heap: Entry[] = [];
  private seq = 0;
  private live = 0;

  add(at: number, fn: () => void): Entry {
    const e: Entry = { at, seq: this.seq++, fn, live: true };
    this.heap.push(e);
    this.up(this.heap.length - 1);
    this.live++;
    // Re-armed timers leave many cancelled entries behind: rebuild once they dominate.
    if (this.heap.length > 64 && this.heap.length > 4 * this.live) this.compact();
    return e;
  }

  cancel(e: Entry): void {
    if (!e.live) return;
    e.live = false;
    this.live--;
  }

  next(): number | undefined {
    while (this.heap.length && !this.heap[0].live) this.pop();
    return this.heap[0]?.at;
  }

  /** Removes and returns the live entries due at `now`, in order. */
  takeDue(now: number): Entry[] {
    const out: Entry[] = [];
    for (let at = this.next(); at !== undefined && at <= now; at = this.next()) out.push(this.pop());
    return out;
  }

  get size(): number {
    return this.live;
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private pop(): Entry {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l], h[m])) m = l;
      if (r < h.length && this.less(h[r], h[m])) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }

  private compact(): void {
    const keep = this.heap.filter((e) => e.live);
    this.heap = [];
    for (const e of keep) {
      this.heap.push(e);
      this.up(this.heap.length - 1);
    }
  }
}

/** Runs due entries (one cancelled by an earlier one is skipped); a throw comes out after all ran. */
function runAll(table: TimerTable, due: Entry[], after?: () => void): void {
  let failed: { err: unknown } | undefined;
  for (const e of due) {
    if (!e.live) continue;
    table.cancel(e);
    try {
      e.fn();
    } catch (err) {
      failed ??= { err };
    }
  }
  after?.();
  if (failed) throw failed.err;
}

/**
 * performance.now() and Date.now(), with all timers of one instance on a
 * single unref'd Node timer (the host's sockets keep the process alive).
 */
export class SystemClock implements Clock {
  private readonly table = new TimerTable();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  now(): number {
    return performance.now();
  }

  wall(): number {
    return Date.now();
  }

  schedule(delayMs: number, fn: () => void): Cancel {
    const e = this.table.add(this.now() + Math.max(0, delayMs), fn);
    this.arm();
    return () => this.table.cancel(e);
  }

  private arm(): void {
    const at = this.table.next();
    if (at === undefined) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // Node timers may fire up to a millisecond early against performance.now(): fire() re-arms then.
    this.timer = setTimeout(() => this.fire(), Math.min(2 ** 31 - 1, Math.max(0, Math.ceil(at - this.now()))));
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    // Calls scheduled while these run (even with delay 0) wait for the next turn.
    runAll(this.table, this.table.takeDue(this.now()), () => this.arm());
  }
}

/** Simulated time from 0 (wall time from `epochMs`); timers fire only inside advance(). */
export class ManualClock implements Clock {
  private t = 0;
  private readonly table = new TimerTable();

  constructor(private readonly epochMs = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  wall(): number {
    return this.epochMs + this.t;
  }

  schedule(delayMs: number, fn: () => void): Cancel {
    const e = this.table.add(this.t + Math.max(0, delayMs), fn);
    return () => this.table.cancel(e);
  }

  /** When the next timer is due, if any. */
  nextAt(): number | undefined {
    return this.table.next();
  }

  /** Timers waiting. */
  get pending(): number {
    return this.table.size;
  }

  /** Moves time forward by ms, running each timer at its own time, in order. */
  advance(ms: number): void {
    const end = this.t + Math.max(0, ms);
    for (let at = this.table.next(); at !== undefined && at <= end; at = this.table.next()) {
      this.t = Math.max(this.t, at);
      runAll(this.table, this.table.takeDue(this.t));
    }
    this.t = end;
  }
}

/**
 * What S2S sessions take from the world besides sockets: a clock, timers,
 * deferral and randomness. The service passes `systemRuntime` unless told
 * otherwise; tests pass a simulated one so that timeouts and hold times run
 * in simulated time. Session code calls none of Date.now, setTimeout,
 * setImmediate, process.nextTick or randomBytes itself.
 */
import { randomBytes } from 'node:crypto';

export interface RuntimeTimer {
  cancel(): void;
}

export interface S2SRuntime {
  /** Milliseconds, monotonic enough for hold times. */
  now(): number;
  /** Runs `fn` once after `ms`; the timer does not keep the process alive. */
  after(ms: number, fn: () => void): RuntimeTimer;
  /** Runs `fn` once the current I/O callbacks are done (a burst of work). */
  soon(fn: () => void): void;
  /** Runs `fn` before any further I/O (the end of the current tick). */
  tick(fn: () => void): void;
  /** `n` unpredictable bytes (stream ids). */
  random(n: number): Buffer;
}

export const systemRuntime: S2SRuntime = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  soon: (fn) => void setImmediate(fn),
  tick: (fn) => process.nextTick(fn),
  random: (n) => randomBytes(n),
};

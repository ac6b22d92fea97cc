/**
 * Logging of the link core without a logging library: the host passes any
 * logger with these three methods (pino's fits); lines are rate-limited with
 * LogLimiter, which takes `now` like every other input.
 */

/** One line per event: fields first, then words an operator understands. */
export interface CoreLogger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

const nothing = (): void => undefined;
export const silentCoreLogger: CoreLogger = { debug: nothing, info: nothing, warn: nothing };

/**
 * Rate-limited log lines: at most one line per key and interval; the next line
 * says how many were held back. Sans-IO: the caller passes `now` (ms).
 */
export class LogLimiter {
  private readonly last = new Map<string, { at: number; held: number }>();
  constructor(private readonly intervalMs: number) {}

  /** undefined: hold this line back; else how many lines were held back since the last one. */
  allow(key: string, now: number): number | undefined {
    const e = this.last.get(key);
    if (e && now - e.at < this.intervalMs) {
      e.held++;
      return undefined;
    }
    this.last.set(key, { at: now, held: 0 });
    return e?.held ?? 0;
  }
}

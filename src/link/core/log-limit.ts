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

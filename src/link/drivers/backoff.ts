/** Re-dial delays: minMs, doubling up to maxMs; reset() after a connection is made. */
export class Backoff {
  private delay: number;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.delay = minMs;
  }

  /** The delay before the next attempt (and doubles the one after). */
  next(): number {
    const d = this.delay;
    this.delay = Math.min(this.maxMs, this.delay * 2);
    return d;
  }

  reset(): void {
    this.delay = this.minMs;
  }
}

/**
 * Sorted sets of disjoint closed ranges [lo, hi]: frame sequence numbers
 * (SACK), byte ranges of a message, message ids (bigint).
 */
export class RangeSet {
  /** Sorted ascending, disjoint, non-adjacent. */
  private readonly r: Array<[number, number]> = [];

  get size(): number { return this.r.length; }
  isEmpty(): boolean { return this.r.length === 0; }
  max(): number | undefined { return this.r.length ? this.r[this.r.length - 1][1] : undefined; }
  min(): number | undefined { return this.r.length ? this.r[0][0] : undefined; }

  has(v: number): boolean {
    for (const [lo, hi] of this.r) { if (v < lo) return false; if (v <= hi) return true; }
    return false;
  }

  /** Adds [lo, hi] (inclusive). */
  add(lo: number, hi = lo): void {
    if (hi < lo) return;
    const out: Array<[number, number]> = [];
    let i = 0;
    while (i < this.r.length && this.r[i][1] < lo - 1) out.push(this.r[i++]);
    while (i < this.r.length && this.r[i][0] <= hi + 1) {
      lo = Math.min(lo, this.r[i][0]);
      hi = Math.max(hi, this.r[i][1]);
      i++;
    }
    out.push([lo, hi]);
    while (i < this.r.length) out.push(this.r[i++]);
    this.r.length = 0;
    this.r.push(...out);
  }

  /** Removes [lo, hi]. */
  remove(lo: number, hi = lo): void {
    const out: Array<[number, number]> = [];
    for (const [a, b] of this.r) {
      if (b < lo || a > hi) { out.push([a, b]); continue; }
      if (a < lo) out.push([a, lo - 1]);
      if (b > hi) out.push([hi + 1, b]);
    }
    this.r.length = 0;
    this.r.push(...out);
  }

  /** True when [lo, hi] is entirely inside the set. */
  covers(lo: number, hi: number): boolean {
    for (const [a, b] of this.r) if (a <= lo && hi <= b) return true;
    return false;
  }

  /** Drops everything below v. */
  pruneBelow(v: number): void { this.remove(Number.MIN_SAFE_INTEGER, v - 1); }

  /** The lowest range, if any. */
  first(): [number, number] | undefined { return this.r[0]; }

  /** The highest `n` ranges, highest first (the order ACK blocks carry them). */
  highest(n: number): Array<[number, number]> { return this.r.slice(-n).reverse(); }

  /** Forgets the lowest ranges until at most `n` are left. */
  keepHighest(n: number): void { if (this.r.length > n) this.r.splice(0, this.r.length - n); }
}

/** The same over bigint (message ids). */
export class BigRangeSet {
  private readonly r: Array<[bigint, bigint]> = [];

  isEmpty(): boolean { return this.r.length === 0; }
  has(v: bigint): boolean {
    for (const [lo, hi] of this.r) { if (v < lo) return false; if (v <= hi) return true; }
    return false;
  }
  add(lo: bigint, hi = lo): void {
    if (hi < lo) return;
    const out: Array<[bigint, bigint]> = [];
    let i = 0;
    while (i < this.r.length && this.r[i][1] < lo - 1n) out.push(this.r[i++]);
    while (i < this.r.length && this.r[i][0] <= hi + 1n) {
      if (this.r[i][0] < lo) lo = this.r[i][0];
      if (this.r[i][1] > hi) hi = this.r[i][1];
      i++;
    }
    out.push([lo, hi]);
    while (i < this.r.length) out.push(this.r[i++]);
    this.r.length = 0;
    this.r.push(...out);
  }
  remove(lo: bigint, hi = lo): void {
    const out: Array<[bigint, bigint]> = [];
    for (const [a, b] of this.r) {
      if (b < lo || a > hi) { out.push([a, b]); continue; }
      if (a < lo) out.push([a, lo - 1n]);
      if (b > hi) out.push([hi + 1n, b]);
    }
    this.r.length = 0;
    this.r.push(...out);
  }
  pruneBelow(v: bigint): void { if (v > 0n) this.remove(0n, v - 1n); }
  /** The highest `n` ranges, highest first (the order MSGACK blocks carry them). */
  highest(n: number): Array<[bigint, bigint]> { return this.r.slice(-n).reverse(); }
}

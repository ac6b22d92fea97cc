/**
 * Retransmission timer, RFC 6298: SRTT/RTTVAR smoothing (§2), RTO floor
 * rtoMinMs and ceiling rtoMaxMs, exponential back-off on expiry (§5.5) kept
 * until a new sample arrives (§5.7). Karn's rule (§3) holds by construction:
 * a retransmission always travels in a new frame with a new sequence number,
 * so every acknowledged frame gives an unambiguous sample.
 */
export class RttEstimator {
  private smoothed: number | undefined;
  private rttvar = 0;
  private backoff = 0;
  private readonly initialRto: number;

  /** ackDelayMs: the peer may hold an ACK this long (added as in RFC 9002 §6.2.1). */
  constructor(private readonly minMs: number, private readonly maxMs: number, estimateMs?: number, private readonly ackDelayMs = 0) {
    // RFC 6298 §2.1: initial RTO 1 s; a configured estimate of the path is better.
    this.initialRto = this.clamp(estimateMs !== undefined ? 2 * estimateMs : 1000);
  }

  private clamp(v: number): number { return Math.min(this.maxMs, Math.max(this.minMs, v)); }

  /** SRTT, once there is a sample. */
  get srtt(): number | undefined { return this.smoothed; }

  sample(rttMs: number): void {
    if (!(rttMs >= 0)) return;
    if (this.smoothed === undefined) {
      this.smoothed = rttMs;
      this.rttvar = rttMs / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.smoothed - rttMs);
      this.smoothed = 0.875 * this.smoothed + 0.125 * rttMs;
    }
    this.backoff = 0;
  }

  /** Base RTO without back-off. */
  baseRto(): number {
    if (this.smoothed === undefined) return this.initialRto;
    return this.clamp(this.smoothed + Math.max(1, 4 * this.rttvar) + this.ackDelayMs);
  }

  /** The timer has expired since the last sample (§5.5): the RTO is backed off. */
  backedOff(): boolean { return this.backoff > 0; }

  /** Back to the base RTO without a sample (the partner was heard again after an outage). */
  resetBackoff(): void { this.backoff = 0; }

  /** RTO with the current back-off, capped at rtoMaxMs. */
  rto(): number { return Math.min(this.maxMs, this.baseRto() * 2 ** this.backoff); }

  onTimeout(): void { if (this.baseRto() * 2 ** this.backoff < this.maxMs) this.backoff++; }
}

/**
 * Anti-replay sliding window over frame sequence numbers of one peer epoch
 * (the RFC 4303 §3.4.3 / RFC 6479 idea): a bitmap of the last WINDOW seqs
 * below the highest seen. Checked before decryption, updated only after
 * the frame authenticated.
 */
export const REPLAY_WINDOW = 4096;

export class ReplayWindow {
  private top = -1;
  private readonly bits = new Uint8Array(REPLAY_WINDOW / 8);

  /** True when seq is new and not too old to judge. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    if (seq <= this.top - REPLAY_WINDOW) return false;
    const i = seq % REPLAY_WINDOW;
    return (this.bits[i >> 3] & (1 << (i & 7))) === 0;
  }

  /** Marks seq seen (call after check() and authentication). */
  mark(seq: number): void {
    if (seq > this.top) {
      const shift = seq - this.top;
      if (shift >= REPLAY_WINDOW) this.bits.fill(0);
      else for (let s = this.top + 1; s <= seq; s++) { const i = s % REPLAY_WINDOW; this.bits[i >> 3] &= ~(1 << (i & 7)); }
      this.top = seq;
    }
    const i = seq % REPLAY_WINDOW;
    this.bits[i >> 3] |= 1 << (i & 7);
  }
}

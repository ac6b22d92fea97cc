/**
 * When data frames may be built (docs/link-protocol.md §6): with a known
 * bearer rate, a frame is timed from when it will have left the driver's
 * pacing queue, and data frames are built only when the line is about to be
 * free (one frame of slack), so stanzas that arrive meanwhile share the next
 * frame instead of queueing half-empty frames in the bearer. Coalescing: while
 * only new messages wait and they fill less than a frame, data waits until
 * coalesceDelayMs after the first of them was handed in. ACKs, probes and
 * retransmissions never wait.
 */
import type { Settings } from './options.ts';

/** What the pacer needs to know of the messages waiting (tx-stream.ts). */
export interface Waiting {
  readonly waitingSince: number | undefined;
  streamPending(): boolean;
  compressionRatio(): number;
  waitingReaches(bytes: number): boolean;
}

export class Pacer {
  /** When the last frame built will have left the pacing queue. */
  private freeAt = -Infinity;

  constructor(private readonly s: Pick<Settings, 'rateBps' | 'maxFrame' | 'coalesceDelayMs'>) {}

  /** A frame of `bytes` built at `now`: returns when it will have left the driver's pacing queue. */
  sent(now: number, bytes: number): number {
    this.freeAt = Math.max(now, this.freeAt) + (this.s.rateBps ? (bytes * 8000) / this.s.rateBps : 0);
    return this.freeAt;
  }

  /** A new bearer: its line is free now (what the last one still had queued is not ahead of us). */
  reset(): void {
    this.freeAt = -Infinity;
  }

  /** When data may go: after the pacer and the coalescing wait (undefined: whenever the window allows). */
  dataAt(w: Waiting): number | undefined {
    const paced = this.s.rateBps ? this.freeAt - (this.s.maxFrame * 8000) / this.s.rateBps : undefined;
    const co = this.coalesceUntil(w);
    if (co === undefined) return paced;
    return paced === undefined ? co : Math.max(paced, co);
  }

  private coalesceUntil(w: Waiting): number | undefined {
    if (this.s.coalesceDelayMs <= 0 || w.waitingSince === undefined || w.streamPending()) return undefined;
    const need = (this.s.maxFrame - 40) / Math.max(0.01, w.compressionRatio());
    return w.waitingReaches(need) ? undefined : w.waitingSince + this.s.coalesceDelayMs;
  }
}

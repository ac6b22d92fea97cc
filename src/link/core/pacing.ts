/**
 * When data frames may be built (docs/link-protocol.md §6): with a known
 * bearer rate, a frame is timed from when it will have left the driver's
 * pacing queue, and data frames are built only when the line is about to be
 * free (within one frame's time, or PACING_AHEAD_MS), so stanzas that
 * arrive meanwhile share the next frame instead of queueing half-empty frames
 * in the bearer. Coalescing: while only new messages wait and they fill less
 * than a frame, data waits until coalesceDelayMs after the first of them was
 * handed in. ACKs, probes and retransmissions never wait.
 */
import type { Settings } from './options.ts';

/**
 * Data frames may be built this long before the line is free, when a frame
 * takes less, up to PACING_AHEAD_FRAMES frames. One frame of slack at 1 Mbit/s
 * is under 10 ms, less than one event-loop turn of a relay that is reading a
 * burst: the timer fired late and the line sat idle (up to 93 ms of a 1.2 s
 * vsat-1m burst). Bearers of up to about 320 kbit/s (1200 B frames) keep one
 * frame, and so do those whose frame takes under PACING_AHEAD_MIN_FRAME_MS:
 * there the relay's CPU, not the line, sets the pace, and waiting for the line
 * fills frames (building ahead on lan made 7 % more frames and cost about
 * 10 µs of CPU per stanza).
 */
export const PACING_AHEAD_MS = 30;
export const PACING_AHEAD_FRAMES = 4;
export const PACING_AHEAD_MIN_FRAME_MS = 1;

/** How far ahead of the line data frames may be built, for frames of `frameMs` (see PACING_AHEAD_MS). */
function aheadMs(frameMs: number): number {
  return frameMs < PACING_AHEAD_MIN_FRAME_MS ? frameMs : Math.max(frameMs, Math.min(PACING_AHEAD_MS, PACING_AHEAD_FRAMES * frameMs));
}

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

  /** `s` changes when a link moves to another bearer (endpoint.useBearer). */
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
    const paced = this.s.rateBps ? this.freeAt - aheadMs((this.s.maxFrame * 8000) / this.s.rateBps) : undefined;
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

/**
 * Outage probing (docs/link-protocol.md §6.1), sans-IO like the endpoint.
 *
 * Probes: while frames are unacknowledged and the partner has been silent
 * for `intervalMs`, the end sends a probe, a PING frame of 23-32 bytes
 * that the ARQ does not track, and again every `intervalMs`. The
 * cadence never backs off, so the first stanza after the bearer returns
 * crosses within about intervalMs + 1.5 RTT, not a backed-off RTO. When the
 * partner acknowledges a probe, every frame sent before it and not
 * acknowledged with it is lost (a FIFO bearer delivers in order) and is
 * resent at once.
 *
 * Hold: a retransmission timeout (RFC 6298 §5) that finds nothing
 * acknowledged starts a presumed outage. The end resends one frame of data,
 * then holds its data back and only probes (every keepalive when no stanza
 * waits: owed acknowledgements wait for the partner's probe). It ends when the partner acknowledges a frame sent since
 * (a probe included) or any tracked frame: everything outstanding goes at
 * once. Hearing the partner after a silence earns one data frame at once
 * (once per outage), so an end with data answers a partner's probe with it.
 * Frames given up in the hold are kept: a late ACK still shows that the
 * partner got them, so their bytes are not sent twice.
 */
import { LinkError } from './errors.ts';
import type { CoreLogger } from './log.ts';
import type { LinkCounters } from './stats.ts';

/** A probe frame at most: header (8 B below 2^21 frames), PING, an ACK block of one range, tag. */
export const PROBE_BYTES = 32;

/**
 * Default probe cadence: the first stanza then crosses within 3 RTT + 1 s of
 * the bearer's return (a probe interval, then a probe, its ACK and two frames
 * of data: 1.5 RTT and their line time). The site config computes the same.
 */
export function defaultProbeIntervalMs(rttMs: number, frameMs: number, probeMs: number): number {
  return Math.max(500, Math.round(1.5 * rttMs + 1000 - 2 * frameMs - 2 * probeMs));
}

/** What the endpoint lends the probe logic. */
export interface OutageHost<F> {
  /** Declares frames lost: their bytes go again. */
  lose(now: number, frames: F[]): void;
  /** A hold ended: the whole window opens, the RTO back-off resets. */
  resume(): void;
  /** outages, outageProbes, outageBytes are counted here. */
  counters: LinkCounters;
  log: CoreLogger;
}

/** The LinkTuning fields used here. */
export interface ProbeTuning { probeIntervalMs?: number; rttEstimateMs?: number; rateBps?: number; rtoMaxMs: number; keepaliveS: number }

/** What the endpoint knows when it looks (recover()). */
export interface OutageView {
  lastRecvAt: number;
  /** A longer gap between frames heard is a silence (the base RTO). */
  silenceMs: number;
  largestAcked: number;
  /** An ACK acknowledged a tracked frame since the hold began. */
  trackedAcked: boolean;
}

/** F: the endpoint's record of a sent frame. */
export class OutageProbe<F extends { seq: number }> {
  /** When the current hold began; undefined when not in one. */
  private since: number | undefined;
  /** Lowest seq sent in this hold: an ACK at or above it ends it. */
  private firstSeq = Infinity;
  private lastProbeAt = -Infinity;
  /** The latest probe not yet known to be acknowledged. */
  private probeSeq: number | undefined;
  private lastHeard = -Infinity;
  /** Data frames the hold may still send (the timeout's resend; one more on hearing the partner). */
  private credit = 0;
  private heardOnce = false;
  private holdProbes = 0;
  private holdBytes = 0;
  /** A driver's hint: probe at this time (bearerUp). */
  private nudgeAt: number | undefined;
  private readonly dark = new Map<number, F>();

  /** Probe cadence while stanzas wait, and in a hold without (the keepalive), ms. */
  readonly intervalMs: number;
  private readonly idleMs: number;

  constructor(t: ProbeTuning, frameMs: number, private readonly host: OutageHost<F>) {
    if (t.probeIntervalMs !== undefined && !(t.probeIntervalMs > 0)) throw new LinkError('LINK_BAD_OPTIONS', 'probeIntervalMs');
    const probeMs = t.rateBps ? (PROBE_BYTES * 8000) / t.rateBps : 0;
    this.intervalMs = t.probeIntervalMs ?? Math.min(t.rtoMaxMs, defaultProbeIntervalMs(t.rttEstimateMs ?? 1000, frameMs, probeMs));
    this.idleMs = t.keepaliveS > 0 ? t.keepaliveS * 1000 : t.rtoMaxMs;
  }

  get active(): boolean { return this.since !== undefined; }

  /** A timeout declared `lost` frames lost and found nothing acknowledged: the hold begins (if not in one). */
  begin(now: number, nextSeq: number, lastRecvAt: number, lost: F[]): void {
    if (this.since === undefined) this.start(now, nextSeq, lastRecvAt);
    this.keepDark(lost);
  }

  private start(now: number, nextSeq: number, lastRecvAt: number): void {
    this.since = now;
    this.firstSeq = nextSeq;
    this.lastProbeAt = Math.max(this.lastProbeAt, now);
    this.lastHeard = lastRecvAt;
    this.credit = 1;
    this.heardOnce = false;
    this.holdProbes = 0;
    this.holdBytes = 0;
  }

  /** Frames in flight allowed after a timeout: one while a data credit is left, none otherwise. */
  window(): number { return this.since === undefined || this.credit > 0 ? 1 : 0; }

  /**
   * When the next probe is due. In a hold: every intervalMs while stanzas
   * wait (`outstanding`), else every idleMs. Otherwise only with
   * `oldestInFlight` (the send time of the oldest unacknowledged frame):
   * intervalMs after the partner was last heard, that frame went out, or the
   * last probe.
   */
  probeAt(lastRecvAt: number, oldestInFlight: number | undefined, outstanding: boolean): number | undefined {
    if (this.nudgeAt !== undefined && (this.since !== undefined || oldestInFlight !== undefined)) return this.nudgeAt;
    if (this.since !== undefined) return this.lastProbeAt + (outstanding ? this.intervalMs : Math.max(this.intervalMs, this.idleMs));
    if (oldestInFlight === undefined) return undefined;
    return Math.max(lastRecvAt, oldestInFlight, this.lastProbeAt) + this.intervalMs;
  }

  /**
   * What the ACKs and frames heard since the last look mean for `inFlight`
   * (the tracked frames, oldest first): a probe acknowledged shows that what
   * went before it and is still unacknowledged was lost; in a hold, an ACK
   * of a frame sent since (or of any tracked frame) ends it; hearing the
   * partner after a silence gives up what went into the dark and grants one
   * data frame.
   */
  recover(now: number, v: OutageView, inFlight: Iterable<F>): void {
    let lostBelow = -Infinity;
    if (this.probeSeq !== undefined && v.largestAcked >= this.probeSeq) {
      lostBelow = this.probeSeq;
      this.probeSeq = undefined;
    }
    let heard = false;
    const ended = this.since !== undefined && (v.trackedAcked || v.largestAcked >= this.firstSeq);
    if (this.since !== undefined && !ended && v.lastRecvAt > this.lastHeard) {
      heard = v.lastRecvAt - this.lastHeard > v.silenceMs && !this.heardOnce;
      this.lastHeard = v.lastRecvAt;
    }
    const lost = heard || lostBelow > -Infinity ? [...inFlight].filter((f) => heard || f.seq < lostBelow) : [];
    if (lost.length) this.host.lose(now, lost);
    if (heard) {
      this.heardOnce = true;
      this.credit = 1;
      this.keepDark(lost);
    }
    if (!ended) return;
    const lastedMs = now - this.since!;
    this.since = undefined;
    this.firstSeq = Infinity;
    this.credit = 0;
    this.dark.clear();
    this.host.counters.outages++;
    // A hold that needed probes was an outage an operator wants to see; a lone timeout is not.
    const fields = { lastedMs: Math.round(lastedMs), probes: this.holdProbes, bytes: this.holdBytes };
    if (this.holdProbes > 0) this.host.log.info(fields, 'partner answered after an outage: sending resumes');
    else this.host.log.debug(fields, 'partner answered after a timeout: sending resumes');
    this.host.resume();
  }

  /** A frame went out: a probe, or a tracked frame (data, MSGACK), which uses a credit in a hold. */
  onSent(now: number, seq: number, bytes: number, tracked: boolean, probe: boolean): void {
    if (probe) {
      this.host.counters.outageProbes++;
      this.holdProbes++;
      this.probeSeq = seq;
      this.nudgeAt = undefined;
    }
    if (probe || this.since !== undefined) {
      this.host.counters.outageBytes += bytes;
      if (this.since !== undefined) this.holdBytes += bytes;
    }
    if (this.since !== undefined && tracked && this.credit > 0) this.credit--;
    if (probe || (tracked && this.since !== undefined)) this.lastProbeAt = now;
  }

  /** A driver says the bearer is back (a TCP connection, a serial port): probe at once if anything is unacknowledged. */
  probeNow(now: number): void {
    this.nudgeAt = now;
  }

  /** Keeps frames declared lost in a hold, in case their ACK still comes. */
  private keepDark(frames: Iterable<F>): void {
    if (this.since === undefined) return;
    for (const f of frames) this.dark.set(f.seq, f);
  }

  /** The kept frames that `ranges` acknowledge (each returned once). */
  takeDark(ranges: Array<[number, number]>): F[] {
    const out: F[] = [];
    for (const [seq, f] of this.dark) {
      if (ranges.some(([lo, hi]) => seq >= lo && seq <= hi)) { out.push(f); this.dark.delete(seq); }
    }
    return out;
  }
}

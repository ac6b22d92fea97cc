/**
 * Loss recovery of the frame layer (docs/link-protocol.md §6): frame numbers,
 * the frames in flight, the window, RTT samples and the retransmission timer
 * (RFC 6298, rtt.ts), selective-repeat loss detection by packet threshold
 * (RFC 9002 §6.1.1), and the outage probes and hold (outage.ts). What a frame
 * carried is the host's: it is told when a frame is acknowledged or lost.
 */
import { OutageProbe } from './outage.ts';
import { RttEstimator } from './rtt.ts';
import { MAX_SEQ } from './wire.ts';
import { bdpWindow, type LinkTuning, type Settings } from './options.ts';
import type { CoreLogger } from './log.ts';
import type { LinkCounters } from './stats.ts';

/** Frames above the largest acked by this many are declared lost (RFC 9002 §6.1.1). */
const PACKET_THRESHOLD = 3;
/** Bearer probes remembered (their ACKs are not taken as the largest acknowledged). */
const SIDE_SEQS = 512;

/** A frame sent: builtAt when it was built, time when it should have left the pacer. */
export interface TrackedFrame { seq: number; builtAt: number; time: number; ackEliciting: boolean }

export interface RecoveryHost<F> {
  /** `tracked` false: a frame given up in an outage whose ACK came after all. */
  acked(f: F, tracked: boolean): void;
  lost(now: number, f: F): void;
}

export class Recovery<F extends TrackedFrame> {
  private seq = 0;
  /** Ack-eliciting frames in flight, by seq (oldest first). */
  private readonly sent = new Map<number, F>();
  private inFlight = 0;
  private largestAcked = -1;
  private lastElicitingAt = -Infinity;
  /** After a timeout: one frame in flight (outage.ts) until an ACK arrives. */
  private probeOnly = false;
  private rtt: RttEstimator;
  private outage: OutageProbe<F>;
  /** RTT state of each bearer this end has used (a link with several: link/bearers). */
  private readonly rtts = new Map<number, RttEstimator>();
  private bearer = 0;
  /**
   * Frames sent on another bearer than the one in use (bearer probes): an
   * ACK of one says nothing of the frames in flight on this bearer, so it
   * never becomes the largest acknowledged (no spurious loss by threshold).
   */
  private readonly sideSeqs = new Set<number>();

  constructor(
    private readonly s: Settings,
    tuning: LinkTuning,
    private readonly host: RecoveryHost<F>,
    private readonly c: LinkCounters,
    private readonly log: CoreLogger,
  ) {
    this.rtt = this.newRtt(tuning);
    this.outage = this.newOutage(tuning);
  }

  private newRtt(tuning: LinkTuning): RttEstimator {
    return new RttEstimator(this.s.rtoMinMs, this.s.rtoMaxMs, tuning.rttEstimateMs, this.s.ackDelayMs);
  }

  private newOutage(tuning: LinkTuning): OutageProbe<F> {
    return new OutageProbe<F>(tuning, this.s.frameMs, {
      counters: this.c, log: this.log,
      lose: (now, fs) => { for (const f of fs) this.lose(now, f); },
      resume: () => { this.probeOnly = false; this.rtt.resetBackoff(); },
    });
  }

  /**
   * Frames now go on bearer `index` (settings already switched by the
   * endpoint): its own RTT state (kept from when it was last used, or a new
   * estimator from its profile: a 50 ms bearer's SRTT would time out a 2 s
   * one at once), a new outage probe, and what was in flight on the old
   * bearer is resent here (it may have gone down with it).
   */
  useBearer(now: number, tuning: LinkTuning, index: number): void {
    if (index === this.bearer) return;
    this.rtts.set(this.bearer, this.rtt);
    this.bearer = index;
    const kept = this.rtts.get(index);
    kept?.resetBackoff();
    this.rtt = kept ?? this.newRtt(tuning);
    this.outage = this.newOutage(tuning);
    this.loseAll(now);
  }

  /** A frame went out on another bearer (a bearer probe, untracked). */
  sentAside(seq: number): void {
    this.sideSeqs.add(seq);
    if (this.sideSeqs.size > SIDE_SEQS) this.sideSeqs.delete(this.sideSeqs.values().next().value!);
  }

  /** The largest acknowledged frame that went on this bearer (the top of ranges, below any bearer probes). */
  private topAcked(ranges: Array<[number, number]>): number {
    for (const [lo, hi] of ranges) {
      let seq = hi;
      while (seq >= lo && this.sideSeqs.has(seq)) seq--;
      if (seq >= lo) return seq;
    }
    return -1;
  }

  /** Frame numbers left in this session (2^48: then a new session is needed, a restart). */
  seqLeft(): boolean { return this.seq <= MAX_SEQ; }
  /** The next frame's number. */
  peekSeq(): number { return this.seq; }
  takeSeq(): number { return this.seq++; }

  /** Configured window, or 2 x BDP from the measured RTT once there is a sample. */
  window(): number {
    const srtt = this.rtt.srtt;
    if (this.s.windowFixed || !this.s.rateBps || srtt === undefined) return this.s.window;
    return bdpWindow(this.s.rateBps, srtt, this.s.maxFrame);
  }

  windowOpen(): boolean {
    return this.inFlight < (this.probeOnly ? this.outage.window() : this.window());
  }

  get framesInFlight(): number { return this.inFlight; }
  get lastAckElicitingSentAt(): number { return this.lastElicitingAt; }
  get rttMs(): number | undefined { return this.rtt.srtt; }
  rtoMs(): number { return this.rtt.rto(); }
  inOutage(): boolean { return this.outage.active; }

  /** A frame went out (a probe is a PING the ARQ does not track). */
  onSent(now: number, f: F, bytes: number, probe: boolean): void {
    if (f.ackEliciting) {
      this.sent.set(f.seq, f);
      this.inFlight++;
      this.lastElicitingAt = f.time;
    }
    this.outage.onSent(now, f.seq, bytes, f.ackEliciting, probe);
  }

  /** An authentic frame from the partner, heard at `now`; `lastRecvAt`: the one before. */
  onHeard(now: number, lastRecvAt: number): void {
    if (this.rtt.backedOff() && this.inFlight > 0 && now - lastRecvAt > this.rtt.baseRto()) {
      // Heard again after a silence while backed off (an outage has ended): the
      // timer runs from the base RTO again, so what went out long ago is resent
      // now, while a probe just sent still has a round trip to be acked.
      this.rtt.resetBackoff();
      this.c.backoffResets++;
    }
  }

  onAck(now: number, ranges: Array<[number, number]>, delayMs: number): void {
    let newlyLargest: F | undefined;
    let any = false;
    for (const [lo, hi] of ranges) {
      if (hi - lo > 1_000_000) continue;
      for (const [seq, f] of this.sent) {
        if (seq < lo || seq > hi) continue;
        any = true;
        if (!newlyLargest || seq > newlyLargest.seq) newlyLargest = f;
        this.acked(f, true);
      }
    }
    for (const f of this.outage.takeDark(ranges)) this.acked(f, false); // given up in an outage, yet arrived
    const largest = this.sideSeqs.size ? this.topAcked(ranges) : ranges[0][1];
    if (largest > this.largestAcked) this.largestAcked = largest;
    if (newlyLargest && newlyLargest.seq === largest && newlyLargest.ackEliciting) {
      // A bearer faster than the configured rate acks before the pacer's estimate.
      const sample = now - (now >= newlyLargest.time ? newlyLargest.time : newlyLargest.builtAt);
      // RFC 9002 §5.3: subtract the peer's ack delay when it leaves a plausible sample.
      this.rtt.sample(sample - delayMs >= Math.min(sample, this.s.rtoMinMs / 4) ? sample - delayMs : sample);
    }
    if (any) this.probeOnly = false;
    for (const f of [...this.sent.values()]) {
      if (f.seq + PACKET_THRESHOLD <= this.largestAcked) this.lose(now, f);
    }
  }

  /** What the ACKs and frames heard since the last look mean for the frames in flight (outage.ts). */
  recover(now: number, lastRecvAt: number): void {
    this.outage.recover(now, { lastRecvAt, silenceMs: this.rtt.baseRto(), largestAcked: this.largestAcked, trackedAcked: !this.probeOnly }, this.sent.values());
  }

  /** The retransmission timer (undefined: nothing in flight). */
  rtoAt(): number | undefined {
    return this.inFlight === 0 ? undefined : this.lastElicitingAt + this.rtt.rto();
  }

  /** RFC 6298 §5.4-5.6: everything in flight is lost, the timer backs off; a presumed outage (outage.ts) is probed. */
  onRto(now: number, lastRecvAt: number): void {
    this.rtt.onTimeout();
    this.probeOnly = true;
    const lost = [...this.sent.values()];
    for (const f of lost) this.lose(now, f);
    this.outage.begin(now, this.seq, lastRecvAt, lost);
    this.log.debug({ rtoMs: this.rtt.rto(), now }, 'rto');
  }

  /** When the next outage probe is due; `waiting`: stanzas (or a RESET) wait to go. */
  probeAt(lastRecvAt: number, waiting: boolean): number | undefined {
    return this.outage.probeAt(lastRecvAt, this.sent.values().next().value?.time, this.outage.active && waiting);
  }

  /** A driver's hint that the bearer is back: probe at once what is unacknowledged. */
  bearerUp(now: number): void { this.outage.probeNow(now); }

  /** The partner restarted (or changed wire version): nothing in flight will be acknowledged. */
  loseAll(now: number): void {
    for (const f of [...this.sent.values()]) this.lose(now, f);
    this.probeOnly = false;
  }

  private acked(f: F, tracked: boolean): void {
    if (tracked && this.sent.delete(f.seq) && f.ackEliciting) this.inFlight--;
    this.host.acked(f, tracked);
  }

  private lose(now: number, f: F): void {
    this.sent.delete(f.seq);
    if (f.ackEliciting) this.inFlight--;
    this.host.lost(now, f);
  }
}

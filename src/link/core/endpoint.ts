/**
 * LinkEndpoint: one end of the bearer protocol, sans-IO (quinn-proto style).
 * Inputs: submit / setSendFloor / confirmDelivered / handleFrame(now, bytes) /
 * handleTimeout(now). Outputs: pollTransmit(now) / pollTimeout() / pollEvent().
 * No sockets, no clock, no Math.random: time and randomness come in.
 *
 * Layers (docs/link-protocol.md):
 *   frames   seq per epoch, AEAD, replay window, SACK, RTO (selective repeat)
 *   stream   messages numbered by msn in transmit order within a generation g,
 *            compressed with one deflate context per generation, split into
 *            segments; retransmissions resend the same compressed bytes
 *   messages durable ids; MSGACK only after confirmDelivered (durable)
 */
import { Metrics } from '../../obs/metrics.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { LogLimiter } from './log-limit.ts';
import { LinkError, WireError, type DropReason } from './errors.ts';
import { TAG_BYTES } from './crypto.ts';
import { StreamDeflater, StreamInflater, buildDictionary } from './compress.ts';
import { BigRangeSet, RangeSet } from './ranges.ts';
import { RttEstimator } from './rtt.ts';
import { LinkSessions, type PeerChange, type SessionState } from './session.ts';
import { OutageProbe } from './outage.ts';
import { U64_MAX, Writer, varintSize, bigVarintSize } from './varint.ts';
import {
  B_FLOOR, B_PING, B_RESET, B_STREAM, MAX_ACK_RANGES, MAX_MSGACK_RANGES, MAX_META_BYTES, MAX_SEQ,
  decodeBody, encodeAck, encodeHeader, encodeMsgAck, encodeSeg, headerSize, segOverhead,
  type Header, type Seg,
} from './wire.ts';

export interface LinkTuning {
  mtu: number;
  frameBytes?: number;
  windowFrames?: number;
  rateBps?: number;
  rttEstimateMs?: number; // window sized from BDP when windowFrames absent
  rtoMinMs: number;
  rtoMaxMs: number;
  ackDelayMs: number;
  keepaliveS: number;
  compressionLevel: number;
  maxStanzaBytes?: number;
  /**
   * How long new messages that fill less than a frame wait for more before
   * they go (ms, default 0: at once). Counted from when the core first sees
   * them, so a lone message is never held longer; retransmissions never wait.
   */
  coalesceDelayMs?: number;
  /** The link is declared down after this long without an authentic frame from the partner, s (default 3 x keepaliveS). */
  linkDownAfterS?: number;
  /** Probe cadence in an outage while stanzas wait, ms (outage.ts: default 1.5 x rttEstimateMs + 1 s - line time of 2 frames and 2 probes). */
  probeIntervalMs?: number;
}

export interface LinkOptions {
  tuning: LinkTuning;
  key: Buffer; // 32-byte PSK
  role: 'a' | 'b';
  localDomains: string[];
  remoteDomains: string[];
  metrics?: Metrics;
  logger?: Logger;
  random: (n: number) => Buffer;
  /** Link name: the `link` label of every metric. */
  name?: string;
  /**
   * From the durable store after a restart. `delivered` (optional, an
   * addition to the brief's API): ids above deliveredUpTo that are already
   * stored (delivery is in transmit order, so stored ids need not be contiguous).
   */
  resume?: { nextSendId: bigint; deliveredUpTo: bigint; delivered?: Iterable<bigint> };
  /** Session numbers from the host's durable store (session.ts); absent: a random session, nothing kept across runs. */
  session?: SessionState;
}

export type LinkEvent =
  | { type: 'deliver'; id: bigint; stanza: Buffer; meta?: Uint8Array }
  | { type: 'acked'; id: bigint }
  | { type: 'up' } | { type: 'down' } | { type: 'resync' }
  /** Receiver: the partner will send nothing below `id` any more (expired, refused or acked ids). */
  | { type: 'floor'; id: bigint }
  /** Store at once (before the next frame): the partner's session accepted, and whether it speaks v2. */
  | { type: 'session'; peer: number; peerV2: boolean }
  /** The partner speaks link protocol `version` (1: an older satrelay; this end talks v1 to it). */
  | { type: 'partner_version'; version: 1 | 2 };

export interface LinkStats {
  framesSent: number; framesReceived: number; retransmits: number; segmentsRetransmitted: number;
  bytesSent: number; bytesReceived: number; headerBytes: number; framesDropped: number;
  rttMs: number | undefined; rtoMs: number; inFlight: number; window: number; queued: number; unacked: number;
  /** Messages submitted but not yet started on the bearer. */
  waiting: number;
  delivered: number; acked: number; epoch: number; peerEpoch: number | undefined; txGeneration: number;
  /** Highest partner session accepted (v2); the last one seen below it, if any; the version this end sends. */
  peerSession: number; staleSession: number | undefined; wireVersion: 1 | 2;
  stanzaBytesIn: number; compressedBytesOut: number;
  /** Stanza bytes compressed so far (compressedBytesOut / stanzaBytesOut: the ratio achieved). */
  stanzaBytesOut: number;
  /** Outages ended (outage.ts), probes sent, bytes of probes and of every frame sent in an outage. */
  outages: number; outageProbes: number; outageBytes: number;
}

/** What handleFrame did with a frame: taken (true), dropped (false), dropped with a frame now due ('poll'). */
export type FrameResult = boolean | 'poll';

export const DEFAULT_MAX_STANZA_BYTES = 256 * 1024;
/** Frames above the largest acked by this many are declared lost (RFC 9002 §6.1.1). */
const PACKET_THRESHOLD = 3;
const MAX_REASSEMBLY_AHEAD = 8192;

interface OutMsg {
  id: bigint; stanza: Buffer; priority: 'high' | 'low'; meta?: Uint8Array;
  gen: number; msn: number; comp?: Buffer;
  need: RangeSet; acked: RangeSet; everSent: boolean; sentTo: number;
  /** Some part has been on the bearer in any generation (everSent resets on resync). */
  transmitted?: boolean;
}
interface SegRef { msg: OutMsg; gen: number; lo: number; hi: number; retx: boolean }
interface SentFrame {
  /** builtAt: when pollTransmit made it; time: when it should have left the pacer. */
  seq: number; builtAt: number; time: number; size: number; ackEliciting: boolean;
  segs: SegRef[]; msgAcks: Array<[bigint, bigint]>; floor?: bigint; reset?: number;
}
interface RxPart { id?: bigint; meta?: Uint8Array; buf: Buffer; have: RangeSet; total?: number }
interface RxStream { epoch: number; g: number; nextMsn: number; inflater: StreamInflater; parts: Map<number, RxPart>; broken: boolean }

export class LinkEndpoint {
  private readonly lbl: { link: string };
  private readonly t: Required<Pick<LinkTuning, 'mtu' | 'rtoMinMs' | 'rtoMaxMs' | 'ackDelayMs' | 'keepaliveS' | 'compressionLevel' | 'coalesceDelayMs'>> & { maxStanza: number; msgAckDelayMs: number };
  private readonly maxFrame: number;
  private readonly window: number;
  private readonly windowFixed: boolean;
  private readonly sessions: LinkSessions;
  private readonly dict: Uint8Array;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly events: LinkEvent[] = [];
  readonly epoch: number;

  // --- send side
  private seq = 0;
  private txGen = 0;
  private nextMsn = 0;
  private deflater: StreamDeflater;
  private readonly high: OutMsg[] = [];
  private readonly low: OutMsg[] = [];
  private readonly stream = new Map<number, OutMsg>(); // msn -> msg of current gen, not fully acked
  private readonly unacked = new Map<bigint, OutMsg>(); // id -> msg, until MSGACK
  private lastSubmitted = -1n;
  private sendFloor = 0n;
  private floorAcked = -1n;
  private readonly sent = new Map<number, SentFrame>();
  private ackElicitingInFlight = 0;
  private largestAckedSent = -1;
  private lastAckElicitingSentAt = -Infinity;
  private txFreeAt = -Infinity;
  private readonly rateBps: number | undefined;
  private probeOnly = false;
  private readonly rtt: RttEstimator;
  private pingPending = true; // the first frame announces the session
  private readonly outage: OutageProbe<SentFrame>;
  /** When pollTransmit first saw the oldest message still waiting (coalescing clock). */
  private firstWaitAt: number | undefined;

  // --- receive side
  private reviving = false;
  private resetInFlight = false;
  private rxSeqs = new RangeSet();
  private rxLargestAt = 0;
  private ackPending = false;
  private ackElicitingUnacked = 0;
  private ackDueAt: number | undefined;
  private rx: RxStream | undefined;
  private readonly deliveredUpTo: bigint;
  /** Ids stored (resume) or delivered this lifetime: ranges, compact since spool ids are dense. */
  private readonly deliveredIds = new BigRangeSet();
  private readonly awaitingConfirm = new Set<bigint>();
  private readonly msgAckPending = new BigRangeSet();
  private msgAckDueAt: number | undefined;
  private resetRequest: number | undefined;
  private peerFloor = 0n;

  // --- liveness
  private up = false;
  private lastRecvAt: number;
  private readonly deadAfterMs: number;

  private readonly st = {
    framesSent: 0, framesReceived: 0, retransmits: 0, segmentsRetransmitted: 0, bytesSent: 0, bytesReceived: 0,
    headerBytes: 0, framesDropped: 0, delivered: 0, acked: 0, stanzaBytesIn: 0, compressedBytesOut: 0, stanzaBytesOut: 0,
  };

  constructor(opts: LinkOptions, now: number) {
    this.lbl = { link: opts.name ?? '' };
    const tu = opts.tuning;
    if (!Buffer.isBuffer(opts.key) || opts.key.length !== 32) throw new LinkError('LINK_BAD_OPTIONS', 'key must be 32 bytes');
    if (!(tu.mtu >= 64 && tu.mtu <= 65507)) throw new LinkError('LINK_BAD_OPTIONS', `mtu out of range: ${tu.mtu}`);
    if (!(tu.rtoMinMs > 0 && tu.rtoMaxMs >= tu.rtoMinMs)) throw new LinkError('LINK_BAD_OPTIONS', 'rtoMinMs/rtoMaxMs');
    if (!(tu.ackDelayMs >= 0) || !(tu.keepaliveS >= 0)) throw new LinkError('LINK_BAD_OPTIONS', 'ackDelayMs/keepaliveS');
    if (!(tu.compressionLevel >= 0 && tu.compressionLevel <= 9)) throw new LinkError('LINK_BAD_OPTIONS', 'compressionLevel 0..9');
    if (tu.coalesceDelayMs !== undefined && !(tu.coalesceDelayMs >= 0)) throw new LinkError('LINK_BAD_OPTIONS', 'coalesceDelayMs');
    if (tu.linkDownAfterS !== undefined && !(tu.linkDownAfterS > 0)) throw new LinkError('LINK_BAD_OPTIONS', 'linkDownAfterS');
    this.maxFrame = Math.min(tu.mtu, tu.frameBytes ?? tu.mtu);
    if (this.maxFrame < 64) throw new LinkError('LINK_BAD_OPTIONS', 'frameBytes < 64');
    // A MSGACK waits for the ACK that the next two data frames bring (it rides along), alone only after that.
    const frameMs = tu.rateBps && tu.rateBps > 0 ? (this.maxFrame * 8000) / tu.rateBps : 0;
    this.t = { mtu: tu.mtu, rtoMinMs: tu.rtoMinMs, rtoMaxMs: tu.rtoMaxMs, ackDelayMs: tu.ackDelayMs, keepaliveS: tu.keepaliveS,
      compressionLevel: tu.compressionLevel, maxStanza: tu.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES,
      coalesceDelayMs: tu.coalesceDelayMs ?? 0, msgAckDelayMs: tu.ackDelayMs + Math.min(2 * frameMs, tu.rtoMinMs / 2) };
    this.window = windowFrames(tu, this.maxFrame);
    this.windowFixed = tu.windowFrames !== undefined;
    this.rateBps = tu.rateBps && tu.rateBps > 0 ? tu.rateBps : undefined;
    this.dict = buildDictionary([...opts.localDomains, ...opts.remoteDomains]);
    this.metrics = opts.metrics ?? new Metrics();
    this.log = opts.logger ?? silentLogger;
    const v1Epoch = opts.random(4).readUInt32BE(0);
    this.sessions = new LinkSessions(opts.session ?? { local: 1 + (opts.random(4).readUInt32BE(0) >>> 1) }, v1Epoch, opts.key, opts.role);
    this.epoch = this.sessions.own[2];
    this.deflater = new StreamDeflater(this.t.compressionLevel, this.dict);
    this.rtt = new RttEstimator(tu.rtoMinMs, tu.rtoMaxMs, tu.rttEstimateMs, tu.ackDelayMs);
    this.outage = new OutageProbe<SentFrame>(tu, frameMs, { metrics: this.metrics, labels: this.lbl, log: this.log,
      lose: (fs) => { for (const f of fs) this.onFrameLost(f); }, resume: () => { this.probeOnly = false; this.rtt.backoff = 0; } });
    this.lastRecvAt = now;
    this.deadAfterMs = tu.linkDownAfterS !== undefined ? tu.linkDownAfterS * 1000 : tu.keepaliveS > 0 ? 3 * tu.keepaliveS * 1000 : 3 * tu.rtoMaxMs;
    this.deliveredUpTo = opts.resume?.deliveredUpTo ?? -1n;
    if (opts.resume) {
      this.sendFloor = opts.resume.nextSendId;
      if (this.deliveredUpTo >= 0n) this.deliveredIds.add(0n, this.deliveredUpTo);
      for (const id of opts.resume.delivered ?? []) this.deliveredIds.add(id);
    }
    this.log.debug({ epoch: this.epoch, role: opts.role, window: this.window }, 'link endpoint start');
  }

  // ------------------------------------------------------------------ API

  submit(id: bigint, stanza: Buffer, priority: 'high' | 'low', meta?: Uint8Array): void {
    if (typeof id !== 'bigint' || id < 0n || id > U64_MAX) throw new LinkError('LINK_BAD_ID', `id out of range: ${String(id)}`);
    if (id <= this.lastSubmitted) throw new LinkError('LINK_BAD_ID', `id ${id} not above ${this.lastSubmitted}`);
    if (stanza.length > this.t.maxStanza) throw new LinkError('LINK_STANZA_TOO_BIG', `${stanza.length} > ${this.t.maxStanza} bytes`);
    if (meta && meta.length > MAX_META_BYTES) throw new LinkError('LINK_STANZA_TOO_BIG', `meta ${meta.length} > ${MAX_META_BYTES} bytes`);
    this.lastSubmitted = id;
    const m: OutMsg = { id, stanza, priority, meta, gen: -1, msn: -1, need: new RangeSet(), acked: new RangeSet(), everSent: false, sentTo: 0 };
    this.unacked.set(id, m);
    (priority === 'high' ? this.high : this.low).push(m);
  }

  setSendFloor(id: bigint): void {
    if (id <= this.sendFloor) return;
    this.sendFloor = id;
    // Never-sent messages below the floor are forgotten (expired/bounced by the spool).
    for (const q of [this.high, this.low]) {
      for (let i = q.length - 1; i >= 0; i--) if (q[i].id < id) { this.unacked.delete(q[i].id); q.splice(i, 1); }
    }
  }

  /**
   * Withdraws a submitted message that has never been put on the bearer (it
   * expired in the spool). Returns false once any part of it has been sent:
   * it will then be delivered.
   */
  cancel(id: bigint): boolean {
    const m = this.unacked.get(id);
    if (!m || m.transmitted || m.everSent || m.msn >= 0) return false;
    for (const q of [this.high, this.low]) {
      const i = q.indexOf(m);
      if (i >= 0) q.splice(i, 1);
    }
    this.unacked.delete(id);
    return true;
  }

  confirmDelivered(id: bigint): void {
    if (!this.awaitingConfirm.delete(id)) return;
    this.msgAckPending.add(id);
    this.scheduleMsgAck();
  }

  pollEvent(): LinkEvent | undefined { return this.events.shift(); }

  /** Messages submitted but not yet started on the bearer (stats().waiting, without building the stats). */
  waitingCount(): number { return this.high.length + this.low.length; }

  stats(): LinkStats {
    return {
      ...this.st, rttMs: this.rtt.srtt, rtoMs: this.rtt.rto(), inFlight: this.ackElicitingInFlight, window: this.currentWindow(),
      queued: this.high.length + this.low.length + this.stream.size, unacked: this.unacked.size,
      waiting: this.high.length + this.low.length,
      epoch: this.epoch, peerEpoch: this.sessions.cur?.heard ? this.sessions.cur.id : undefined, txGeneration: this.txGen,
      peerSession: this.sessions.floor, staleSession: this.sessions.lastStale, wireVersion: this.sessions.tx,
      outages: this.outage.stats.outages, outageProbes: this.outage.stats.probes, outageBytes: this.outage.stats.bytes,
    };
  }

  pollTimeout(): number | undefined {
    let t = Infinity;
    if (this.ackDueAt !== undefined) t = Math.min(t, this.ackDueAt);
    if (this.msgAckDueAt !== undefined && !this.msgAckPending.isEmpty() && this.windowOpen()) t = Math.min(t, this.msgAckDueAt);
    const rto = this.rtoAt();
    if (rto !== undefined) t = Math.min(t, rto);
    const ping = this.pingAt();
    if (ping !== undefined) t = Math.min(t, ping);
    t = Math.min(t, this.probeAt() ?? Infinity);
    if (this.up) t = Math.min(t, this.lastRecvAt + this.deadAfterMs);
    const dataAt = this.dataAt();
    if (dataAt !== undefined && this.windowOpen() && this.hasData()) t = Math.min(t, dataAt);
    return t === Infinity ? undefined : t;
  }

  /** When data may go: after the pacer and the coalescing wait (undefined: whenever the window allows). */
  private dataAt(): number | undefined {
    const paced = this.pacedUntil();
    const co = this.coalesceUntil();
    if (co === undefined) return paced;
    return paced === undefined ? co : Math.max(paced, co);
  }

  /**
   * While only new messages wait and their estimated compressed bytes fill
   * less than a frame, data waits until coalesceDelayMs after the core first
   * saw the oldest of them (pollTransmit stamps it). Undefined: no wait.
   */
  private coalesceUntil(): number | undefined {
    if (this.t.coalesceDelayMs <= 0 || this.firstWaitAt === undefined || this.streamPending()) return undefined;
    const ratio = this.st.stanzaBytesOut > 0 ? this.st.compressedBytesOut / this.st.stanzaBytesOut : 0.5;
    const need = (this.maxFrame - 40) / Math.max(0.01, ratio);
    let raw = 0;
    for (const q of [this.high, this.low]) for (const m of q) if ((raw += m.stanza.length + 8) >= need) return undefined;
    return this.firstWaitAt + this.t.coalesceDelayMs;
  }

  /**
   * With a known bearer rate, data frames are built only when the line is about
   * to be free (one frame of slack), so stanzas that arrive meanwhile share the
   * next frame instead of queueing half-empty frames in the bearer.
   */
  private pacedUntil(): number | undefined {
    if (!this.rateBps) return undefined;
    return this.txFreeAt - (this.maxFrame * 8000) / this.rateBps;
  }

  handleTimeout(now: number): void {
    this.recover(now);
    const rto = this.rtoAt();
    if (rto !== undefined && now >= rto) this.onRto(now);
    const ping = this.pingAt();
    if (ping !== undefined && now >= ping) this.pingPending = true;
    if (this.up && now >= this.lastRecvAt + this.deadAfterMs) {
      this.up = false;
      this.events.push({ type: 'down' });
      this.metrics.inc('link_down_total', this.lbl);
      this.log.info({ silentMs: now - this.lastRecvAt }, 'link down');
    }
  }

  // ------------------------------------------------------------------ timers

  private rtoAt(): number | undefined {
    if (this.ackElicitingInFlight === 0) return undefined;
    return this.lastAckElicitingSentAt + this.rtt.rto();
  }

  private pingAt(): number | undefined {
    if (this.t.keepaliveS <= 0 || this.pingPending || this.ackElicitingInFlight > 0 || this.outage.active) return undefined;
    // Idle keepalive (costs bytes: only when nothing else flows; in an outage the probes stand in).
    return Math.max(this.lastRecvAt, this.lastAckElicitingSentAt) + this.t.keepaliveS * 1000;
  }

  private scheduleMsgAck(): void {
    this.msgAckDueAt = Math.min(this.msgAckDueAt ?? Infinity, this.nowHint + this.t.msgAckDelayMs);
  }

  /** Last time seen through any input (confirmDelivered has no `now`). */
  private nowHint = 0;

  private onRto(now: number): void {
    // RFC 6298 §5.4-5.6: retransmit, back off; one probe frame in flight until an ACK arrives.
    this.rtt.onTimeout();
    this.probeOnly = true;
    const lost = [...this.sent.values()];
    for (const f of lost) this.onFrameLost(f);
    this.outage.begin(now, this.seq, this.lastRecvAt, lost); // a presumed outage: probed, not backed off (outage.ts)
    this.log.debug({ rtoMs: this.rtt.rto(), now }, 'rto');
  }

  /** Outage probes (outage.ts): when the next is due; what ACKs and frames heard mean for frames in flight. */
  private probeAt(): number | undefined {
    // Stanzas to deliver (or a broken inbound stream) probe at the short cadence; owed MSGACKs can wait for the partner's.
    const waiting = this.outage.active && (this.hasData() || this.resetRequest !== undefined);
    return this.outage.probeAt(this.lastRecvAt, this.sent.values().next().value?.time, waiting);
  }
  private recover(now: number): void {
    this.outage.recover(now, { lastRecvAt: this.lastRecvAt, silenceMs: this.rtt.baseRto(), largestAcked: this.largestAckedSent, trackedAcked: !this.probeOnly }, this.sent.values());
  }

  /** A driver's hint that the bearer is back (a TCP connection made): probe at once what is unacknowledged. */
  bearerUp(now: number): void { this.outage.probeNow(now); }

  // ------------------------------------------------------------------ receive

  /**
   * true: the frame passed authentication, replay and session checks and was
   * taken (its sender is the partner: a roaming driver may answer there);
   * false: dropped, nothing changed (the driver need not poll); 'poll':
   * dropped, but a frame is now due (a v1 announce, session.ts).
   */
  handleFrame(now: number, frame: Buffer): FrameResult {
    try {
      return this.receive(now, frame);
    } catch (err) {
      return this.drop(err instanceof WireError ? err.reason : 'malformed', err);
    }
  }

  private readonly dropLabels = new Map<DropReason, Record<string, string>>();

  private drop(reason: DropReason, err?: unknown): false {
    this.st.framesDropped++;
    let lbl = this.dropLabels.get(reason);
    if (!lbl) this.dropLabels.set(reason, (lbl = { ...this.lbl, reason }));
    this.metrics.inc('link_frames_dropped_total', lbl);
    if (err) this.log.debug({ reason, err: err instanceof Error ? err.message : undefined }, 'frame dropped');
    return false;
  }

  private receive(now: number, frame: Buffer): FrameResult {
    if (frame.length > this.t.mtu) return this.drop('too_big');
    // Header checks (session, replay window, length) before the AEAD: session.ts.
    const got = this.sessions.open(frame);
    if (typeof got === 'string') return this.drop(got) || (this.sessions.announceDue() && 'poll'); // a v1 announce goes at once
    const { h, plain } = got;
    this.nowHint = Math.max(this.nowHint, now);
    const body = decodeBody(plain); // validate everything before any effect
    if (body.ack && !h.e) throw new WireError('malformed', 'ACK without E');

    this.st.framesReceived++;
    this.st.bytesReceived += frame.length;
    this.metrics.inc('link_frames_received_total', this.lbl);
    this.metrics.inc('link_bytes_received_total', this.lbl, frame.length);

    this.onPeerRun(this.sessions.admit(h), h);
    if (this.rtt.backoff > 0 && this.ackElicitingInFlight > 0 && now - this.lastRecvAt > this.rtt.baseRto()) {
      // Heard again after a silence while backed off (an outage has ended): the
      // timer runs from the base RTO again, so what went out long ago is resent
      // now, while a probe just sent still has a round trip to be acked.
      this.rtt.backoff = 0;
      this.metrics.inc('link_backoff_resets_total', this.lbl);
    }
    this.lastRecvAt = now;
    if (!this.up) { this.up = true; this.events.push({ type: 'up' }); }

    const ackEliciting = body.ping || body.segs.length > 0 || body.msgAck !== undefined || body.floor !== undefined || body.reset !== undefined;
    this.noteReceived(now, h.seq, ackEliciting);

    if (body.ack) this.onAck(now, body.ack.ranges, body.ack.delayMs);
    if (body.msgAck) this.onMsgAck(body.msgAck.ranges);
    if (body.reset !== undefined && body.reset === this.txGen) this.resetTxStream('peer asked');
    if (body.floor !== undefined) this.onPeerFloor(body.floor);
    if (body.stream !== undefined) this.onData(body.stream, body.segs, h.session);
    return true;
  }

  private readonly logLimit = new LogLimiter(60_000);

  /** After admitting a frame: a new partner run (or wire version) restarts both directions. */
  private onPeerRun(change: PeerChange, h: Header): void {
    const store = this.sessions.takeStore();
    if (store) this.events.push({ type: 'session', ...store });
    const switched = this.sessions.followPartner(h);
    if (switched) this.events.push({ type: 'partner_version', version: this.sessions.tx });
    const restart = change === 'restart' || change === 'revive';
    if (change !== 'same') {
      // A retired v1 epoch back (newer seqs, authentic) never restarted: its stream runs past what we can inflate.
      this.reviving = change === 'revive';
      this.rxSeqs = new RangeSet(); this.ackPending = false; this.ackElicitingUnacked = 0; this.ackDueAt = undefined;
    }
    if (!restart && !switched) return; // first contact: nothing to undo
    if (restart) { this.rx = undefined; this.resetRequest = undefined; this.resetInFlight = false; } // the partner lost its streams
    // Our direction restarts too (after a version switch the partner sees a new run of ours); frames in flight were bound to the old run.
    this.resetTxStream(restart ? 'peer restarted' : 'version switch');
    for (const f of [...this.sent.values()]) this.onFrameLost(f);
    this.probeOnly = false;
    this.pingPending ||= switched;
    if (!restart) return;
    this.events.push({ type: 'resync' });
    const held = this.logLimit.allow('resync', this.nowHint);
    if (held !== undefined) this.log.info({ session: h.session, version: h.version, held }, 'partner restarted (a new session): link streams resynchronised');
  }

  private noteReceived(now: number, seq: number, ackEliciting: boolean): void {
    const max = this.rxSeqs.max();
    const outOfOrder = max !== undefined && seq !== max + 1;
    this.rxSeqs.add(seq);
    if (max === undefined || seq > max) this.rxLargestAt = now;
    while (this.rxSeqs.size > 64) this.rxSeqs.r.shift();
    this.ackPending = true;
    if (!ackEliciting) return;
    this.ackElicitingUnacked++;
    // Ack at once on reordering/loss or every second frame, else after ackDelayMs.
    const due = outOfOrder || this.ackElicitingUnacked >= 2 ? now : now + this.t.ackDelayMs;
    this.ackDueAt = this.ackDueAt === undefined ? due : Math.min(this.ackDueAt, due);
  }

  private onAck(now: number, ranges: Array<[number, number]>, delayMs: number): void {
    let newlyLargest: SentFrame | undefined;
    let any = false;
    for (const [lo, hi] of ranges) {
      if (hi - lo > 1_000_000) continue;
      for (const [seq, f] of this.sent) {
        if (seq < lo || seq > hi) continue;
        any = true;
        if (!newlyLargest || seq > newlyLargest.seq) newlyLargest = f;
        this.onFrameAcked(f);
      }
    }
    for (const f of this.outage.takeDark(ranges)) this.onFrameAcked(f, false); // given up in an outage, yet arrived
    const largest = ranges[0][1];
    if (largest > this.largestAckedSent) this.largestAckedSent = largest;
    if (newlyLargest && newlyLargest.seq === largest && newlyLargest.ackEliciting) {
      // A bearer faster than the configured rate acks before the pacer's estimate.
      const sample = now - (now >= newlyLargest.time ? newlyLargest.time : newlyLargest.builtAt);
      // RFC 9002 §5.3: subtract the peer's ack delay when it leaves a plausible sample.
      this.rtt.sample(sample - delayMs >= Math.min(sample, this.t.rtoMinMs / 4) ? sample - delayMs : sample);
    }
    if (any) this.probeOnly = false;
    // Selective repeat loss detection by packet threshold.
    for (const f of [...this.sent.values()]) {
      if (f.seq + PACKET_THRESHOLD <= this.largestAckedSent) this.onFrameLost(f);
    }
  }

  /** tracked false: a frame already declared lost (it left the in-flight count then). */
  private onFrameAcked(f: SentFrame, tracked = true): void {
    if (tracked && this.sent.delete(f.seq) && f.ackEliciting) this.ackElicitingInFlight--;
    for (const s of f.segs) {
      if (s.gen !== this.txGen || s.msg.gen !== s.gen || !s.msg.comp) continue;
      s.msg.acked.add(s.lo, s.hi);
      s.msg.need.remove(s.lo, s.hi);
      const len = s.msg.comp!.length;
      if (s.msg.acked.covers(0, Math.max(0, len - 1)) || len === 0) {
        this.stream.delete(s.msg.msn);
        s.msg.comp = undefined;
      }
    }
    if (f.floor !== undefined && f.floor > this.floorAcked) this.floorAcked = f.floor;
  }

  private onFrameLost(f: SentFrame): void {
    this.sent.delete(f.seq);
    if (f.ackEliciting) this.ackElicitingInFlight--;
    for (const s of f.segs) {
      if (s.gen !== this.txGen || s.msg.gen !== s.gen || !s.msg.comp) continue;
      // Re-queue the bytes not acknowledged by another frame.
      for (let lo = s.lo; lo <= s.hi;) {
        if (s.msg.acked.has(lo)) { lo++; continue; }
        let hi = lo;
        while (hi + 1 <= s.hi && !s.msg.acked.has(hi + 1)) hi++;
        s.msg.need.add(lo, hi);
        lo = hi + 1;
      }
      if (s.lo > s.hi) s.msg.everSent = false; // empty message: send its FIRST|LAST again
    }
    for (const [lo, hi] of f.msgAcks) this.msgAckPending.add(lo, hi);
    if (f.reset !== undefined) this.resetInFlight = false;
    if (f.msgAcks.length) this.msgAckDueAt = Math.min(this.msgAckDueAt ?? Infinity, this.nowHint);
  }

  private onMsgAck(ranges: Array<[bigint, bigint]>): void {
    for (const [lo, hi] of ranges) {
      const ids = hi - lo < BigInt(this.unacked.size)
        ? (function* () { for (let i = lo; i <= hi; i++) yield i; })()
        : [...this.unacked.keys()].filter((id) => id >= lo && id <= hi);
      for (const id of ids) {
        const m = this.unacked.get(id);
        if (!m) continue;
        this.unacked.delete(id);
        if (m.msn >= 0 && m.gen === this.txGen && !m.comp) this.stream.delete(m.msn);
        this.st.acked++;
        this.events.push({ type: 'acked', id });
      }
    }
  }

  private onPeerFloor(floor: bigint): void {
    if (floor <= this.peerFloor) return;
    this.peerFloor = floor;
    this.events.push({ type: 'floor', id: floor });
    // The dedup ranges are not pruned: a sender that crashed between our MSGACK
    // and its spool delete may offer ids below its old floor again.
    this.msgAckPending.pruneBelow(floor);
  }

  private onData(g: number, segs: Seg[], epoch: number): void {
    if (this.rx && g < this.rx.g) return; // stale generation
    if (!this.rx || g > this.rx.g) {
      const fresh = this.rx !== undefined;
      this.rx = { epoch, g, nextMsn: 0, inflater: new StreamInflater(this.dict), parts: new Map(), broken: this.reviving };
      if (this.reviving) { this.resetRequest = g; this.resetInFlight = false; this.reviving = false; return; }
      if (this.resetRequest !== undefined && g > this.resetRequest) { this.resetRequest = undefined; this.resetInFlight = false; }
      if (fresh) this.events.push({ type: 'resync' });
    }
    const rx = this.rx;
    if (rx.broken) return;
    const cap = this.t.maxStanza + (this.t.maxStanza >> 4) + 1024; // deflate worst-case expansion
    for (const s of segs) {
      if (s.msn < rx.nextMsn || s.msn >= rx.nextMsn + MAX_REASSEMBLY_AHEAD) continue; // done already / too far
      let p = rx.parts.get(s.msn);
      if (!p) { p = { buf: Buffer.alloc(0), have: new RangeSet() }; rx.parts.set(s.msn, p); }
      const end = s.offset + s.data.length;
      if (end > cap) { this.drop('too_big'); continue; }
      if (s.first) { p.id = s.id; p.meta = s.meta ? Buffer.from(s.meta) : undefined; }
      if (s.last) p.total = end;
      if (end > p.buf.length) { const nb = Buffer.alloc(Math.max(end, Math.min(cap, p.buf.length * 2))); p.buf.copy(nb); p.buf = nb; }
      p.buf.set(s.data, s.offset);
      if (s.data.length) p.have.add(s.offset, end - 1);
    }
    this.deliverReady();
  }

  private deliverReady(): void {
    const rx = this.rx!;
    for (;;) {
      const p = rx.parts.get(rx.nextMsn);
      if (!p || p.total === undefined || p.id === undefined) return;
      if (p.total > 0 && !p.have.covers(0, p.total - 1)) return;
      rx.parts.delete(rx.nextMsn);
      rx.nextMsn++;
      const res = rx.inflater.inflate(p.buf.subarray(0, p.total), this.t.maxStanza);
      if (!res.ok && res.reason === 'corrupt') {
        // Context lost: ask the peer for a new generation (RESET block).
        rx.broken = true;
        rx.parts.clear();
        this.resetRequest = rx.g;
        this.resetInFlight = false;
        this.metrics.inc('link_stream_resets_total', { ...this.lbl, reason: 'inflate' });
        this.log.warn({ g: rx.g }, 'inflate failed: asking for a stream reset');
        return;
      }
      this.st.stanzaBytesIn += res.ok ? res.data.length : 0;
      const id = p.id;
      if (this.deliveredIds.has(id)) {
        // Duplicate across restarts: not delivered again; re-ack once durable.
        if (!this.awaitingConfirm.has(id)) { this.msgAckPending.add(id); this.scheduleMsgAck(); }
        this.metrics.inc('link_duplicates_total', this.lbl);
        continue;
      }
      this.deliveredIds.add(id);
      if (!res.ok) {
        // Over maxStanzaBytes after inflate: refused, acknowledged so the sender stops.
        this.metrics.inc('link_frames_dropped_total', { ...this.lbl, reason: 'too_big' });
        this.metrics.inc('link_messages_dropped_total', { ...this.lbl, reason: 'too_big' });
        this.log.warn({ id: String(id) }, 'stanza over maxStanzaBytes after inflate: dropped');
        this.msgAckPending.add(id);
        this.scheduleMsgAck();
        continue;
      }
      this.awaitingConfirm.add(id);
      this.st.delivered++;
      this.events.push(p.meta ? { type: 'deliver', id, stanza: res.data, meta: p.meta } : { type: 'deliver', id, stanza: res.data });
    }
  }

  // ------------------------------------------------------------------ send

  private resetTxStream(why: string): void {
    this.txGen++;
    this.nextMsn = 0;
    this.deflater = new StreamDeflater(this.t.compressionLevel, this.dict);
    this.stream.clear();
    // Every message not yet acknowledged goes back to its queue, in id order.
    const hi: OutMsg[] = [];
    const lo: OutMsg[] = [];
    for (const m of [...this.unacked.values()].sort((x, y) => (x.id < y.id ? -1 : 1))) {
      m.gen = -1; m.msn = -1; m.comp = undefined; m.need = new RangeSet(); m.acked = new RangeSet(); m.everSent = false; m.sentTo = 0;
      (m.priority === 'high' ? hi : lo).push(m);
    }
    this.high.length = 0; this.high.push(...hi);
    this.low.length = 0; this.low.push(...lo);
    this.metrics.inc('link_stream_resets_total', { ...this.lbl, reason: why === 'peer asked' ? 'peer_request' : why === 'version switch' ? 'version_switch' : 'peer_restart' });
  }

  private floor(): bigint {
    let f = this.lastSubmitted + 1n;
    if (this.sendFloor > f) f = this.sendFloor;
    for (const id of this.unacked.keys()) if (id < f) f = id;
    return f;
  }

  private hasData(): boolean {
    return this.high.length > 0 || this.low.length > 0 || this.streamPending();
  }

  /** Bytes of messages already in the stream still to (re)send. */
  private streamPending(): boolean {
    for (const m of this.stream.values()) if (!m.need.isEmpty() || (m.comp && m.comp.length === 0 && !m.everSent)) return true;
    return false;
  }

  /** Configured window, or 2 x BDP from the measured RTT once there is a sample. */
  private currentWindow(): number {
    if (this.windowFixed || !this.rateBps || this.rtt.srtt === undefined) return this.window;
    const bdp = (this.rateBps / 8) * (this.rtt.srtt / 1000);
    return Math.min(1024, Math.max(2, Math.ceil((2 * bdp) / this.maxFrame)));
  }

  private windowOpen(): boolean {
    return this.ackElicitingInFlight < (this.probeOnly ? this.outage.window() : this.currentWindow());
  }

  pollTransmit(now: number): Buffer | undefined {
    this.nowHint = Math.max(this.nowHint, now);
    this.recover(now);
    const ackDue = this.ackPending && this.ackDueAt !== undefined && this.ackDueAt <= now;
    const msgAckDue = !this.msgAckPending.isEmpty() && this.msgAckDueAt !== undefined && this.msgAckDueAt <= now && this.windowOpen();
    if (this.high.length + this.low.length === 0) this.firstWaitAt = undefined;
    else this.firstWaitAt ??= now;
    const dataAt = this.dataAt();
    const dataReady = this.windowOpen() && this.hasData() && (dataAt === undefined || dataAt <= now);
    const resetDue = this.resetRequest !== undefined && !this.resetInFlight && this.windowOpen();
    const pingDue = this.pingPending && this.windowOpen();
    const probeDue = (this.probeAt() ?? Infinity) <= now;
    if (this.msgAckPending.isEmpty()) this.msgAckDueAt = undefined;
    if (this.seq > MAX_SEQ) return undefined; // 2^48 frames: a new session is needed (restart)
    const versionProbe = this.sessions.probeFrame(now, (this.t.keepaliveS || 30) * 1000, this.seq);
    if (versionProbe) { this.seq++; this.st.framesSent++; this.st.bytesSent += versionProbe.length; return versionProbe; }
    if (!ackDue && !msgAckDue && !dataReady && !resetDue && !pingDue && !probeDue) return undefined;

    const seq = this.seq++;
    const v = this.sessions.tx;
    const bind = this.sessions.peerBinding(v);
    const e = bind !== undefined;
    const w = new Writer(this.maxFrame);
    encodeHeader(w, e, this.sessions.own[v], seq, v);
    const hdrLen = w.length;
    const body = new Writer(this.maxFrame);
    const f: SentFrame = { seq, builtAt: now, time: now, size: 0, ackEliciting: false, segs: [], msgAcks: [] };

    // 1. ACK (piggy-backed whenever there is news; RFC 9000-style ranges)
    if (e && this.ackPending && this.rxSeqs.size > 0) {
      const ranges = this.rxSeqs.r.slice(-MAX_ACK_RANGES).reverse();
      encodeAck(body, ranges, Math.max(0, now - this.rxLargestAt));
      this.ackPending = false;
      this.ackElicitingUnacked = 0;
      this.ackDueAt = undefined;
    }
    // 2. MSGACK: ids durably stored (ack-eliciting, so inside the window)
    if (!this.msgAckPending.isEmpty() && this.windowOpen()) {
      const ranges = this.msgAckPending.r.slice(-MAX_MSGACK_RANGES).reverse();
      encodeMsgAck(body, ranges);
      for (const [lo, hi] of ranges) this.msgAckPending.remove(lo, hi);
      f.msgAcks = ranges;
      f.ackEliciting = true;
      if (this.msgAckPending.isEmpty()) this.msgAckDueAt = undefined;
    }
    // 3. RESET request for a broken inbound stream
    if (this.resetRequest !== undefined && !this.resetInFlight) {
      body.u8(B_RESET); body.varint(this.resetRequest);
      f.reset = this.resetRequest;
      f.ackEliciting = true;
      this.resetInFlight = true; // again only if this frame is lost
    }
    // 4. FLOOR rides on data frames until a frame carrying it is acked
    if (dataReady) {
      const fl = this.floor();
      if (fl > this.floorAcked) { body.u8(B_FLOOR); body.bigVarint(fl); f.floor = fl; }
    }
    // 5. data (retransmissions first, then the stream head, then high before low)
    if (this.windowOpen()) this.fillData(body, this.maxFrame - TAG_BYTES - hdrLen, f);
    // 6. PING if nothing else asks for an ACK; an outage probe is a PING the ARQ does not track
    const probe = probeDue && !f.ackEliciting && !this.pingPending;
    if ((this.pingPending || probe) && !f.ackEliciting) { body.u8(B_PING); f.ackEliciting = !probe; }
    this.pingPending = false;

    const frame = this.sessions.seal(v, seq, w.finish(), bind, body.finish());
    f.size = frame.length;
    // With a known bearer rate, time a frame from when it will have left the
    // driver's pacing queue, so a queue of frames does not fire the RTO.
    this.txFreeAt = Math.max(now, this.txFreeAt) + (this.rateBps ? (frame.length * 8000) / this.rateBps : 0);
    f.time = this.txFreeAt;
    this.sent.set(seq, f);
    if (f.ackEliciting) { this.ackElicitingInFlight++; this.lastAckElicitingSentAt = f.time; } else this.sent.delete(seq);
    this.outage.onSent(now, seq, frame.length, f.ackEliciting, probe);
    if (f.segs.some((s) => s.retx)) { this.st.retransmits++; this.metrics.inc('link_retransmits_total', this.lbl); }
    this.st.framesSent++;
    this.st.bytesSent += frame.length;
    this.st.headerBytes += hdrLen + TAG_BYTES;
    this.metrics.inc('link_frames_sent_total', this.lbl);
    this.metrics.inc('link_bytes_sent_total', this.lbl, frame.length);
    this.metrics.inc('link_header_bytes_total', this.lbl, hdrLen + TAG_BYTES);
    return frame;
  }

  private fillData(body: Writer, limit: number, f: SentFrame): void {
    let streamWritten = false;
    const room = (): number => limit - body.length - (streamWritten ? 0 : 1 + varintSize(this.txGen));
    const put = (m: OutMsg, lo: number, maxLen: number, retx: boolean): boolean => {
      const comp = m.comp!;
      const first = lo === 0;
      const metaLen = first && m.meta ? m.meta.length : 0;
      const over = segOverhead(m.msn, lo, m.id, metaLen, Math.min(maxLen, comp.length - lo)) - (first ? 10 - bigVarintSize(m.id) : 0);
      const space = room() - over;
      if (space < 1 && !(comp.length - lo === 0 && space >= 0)) return false;
      const len = Math.min(maxLen, comp.length - lo, space);
      if (!streamWritten) { body.u8(B_STREAM); body.varint(this.txGen); streamWritten = true; }
      const last = lo + len === comp.length;
      encodeSeg(body, { msn: m.msn, offset: lo, first, last, id: m.id, meta: m.meta, data: comp.subarray(lo, lo + len) }, false);
      if (len > 0) m.need.remove(lo, lo + len - 1);
      m.everSent = true;
      m.transmitted = true;
      if (lo + len > m.sentTo) m.sentTo = lo + len;
      f.segs.push({ msg: m, gen: this.txGen, lo, hi: lo + len - 1, retx });
      if (retx) { this.st.segmentsRetransmitted++; }
      f.ackEliciting = true;
      return true;
    };
    // retransmissions and the unfinished stream head, in msn order
    for (const m of this.stream.values()) {
      if (!m.comp) continue;
      if (m.comp.length === 0 && !m.everSent) { if (!put(m, 0, 0, false)) return; continue; }
      while (!m.need.isEmpty()) {
        const [lo, hi] = m.need.r[0];
        if (!put(m, lo, hi - lo + 1, lo < m.sentTo)) return;
      }
    }
    // new messages: high before low (a presence backlog delays a message by at most one frame)
    while (room() > 12) {
      const m = this.high.shift() ?? this.low.shift();
      if (!m) return;
      this.assign(m);
      if (m.comp!.length === 0) { if (!put(m, 0, 0, false)) return; continue; }
      while (!m.need.isEmpty()) {
        const [lo, hi] = m.need.r[0];
        if (!put(m, lo, hi - lo + 1, false)) return;
      }
    }
  }

  private assign(m: OutMsg): void {
    m.gen = this.txGen;
    m.msn = this.nextMsn++;
    m.comp = this.deflater.compress(m.stanza);
    this.st.compressedBytesOut += m.comp.length;
    this.st.stanzaBytesOut += m.stanza.length;
    m.need = new RangeSet();
    if (m.comp.length) m.need.add(0, m.comp.length - 1);
    m.acked = new RangeSet();
    m.everSent = false;
    m.sentTo = 0;
    this.stream.set(m.msn, m);
  }
}

/** Window in frames: configured, or 2 x bandwidth-delay product (rate x RTT), at least 2. */
export function windowFrames(t: LinkTuning, frameBytes: number): number {
  if (t.windowFrames !== undefined) return Math.max(1, Math.floor(t.windowFrames));
  if (t.rateBps && t.rttEstimateMs) {
    const bdpBytes = (t.rateBps / 8) * (t.rttEstimateMs / 1000);
    return Math.min(1024, Math.max(2, Math.ceil((2 * bdpBytes) / frameBytes)));
  }
  return 8;
}

/**
 * LinkEndpoint: one end of the bearer protocol, sans-IO (quinn-proto style).
 * Inputs: submit / setSendFloor / cancel / confirmDelivered / handleFrame /
 * handleTimeout / bearerUp, each with `now` where time matters. Outputs:
 * pollTransmit(now) / pollTimeout() / pollEvent() / stats(). No sockets, no
 * clock, no Math.random, no metrics library: time and randomness come in,
 * counters go out in stats().
 *
 * The endpoint only orchestrates; each job has its part (docs/link-protocol.md):
 *   session.ts, sealing.ts  AEAD, sessions and epochs, replay window (§7)
 *   recovery.ts, outage.ts  frame numbers, window, RTO, loss, outage probes (§6)
 *   silence.ts              a PING when the partner's stream falls silent (§6.2)
 *   acks.ts                 frames received and when the ACK is due (§6)
 *   pacing.ts               when data frames may be built (rate, coalescing)
 *   tx-stream.ts            messages -> compressed stream -> segments (§4)
 *   rx-stream.ts            segments -> reassembled, inflated messages (§4)
 *   ledger.ts               exactly-once delivery, MSGACK, FLOOR (§5)
 *   timers.ts               the named deadlines behind pollTimeout
 */
import { LogLimiter, silentCoreLogger, type CoreLogger } from './log.ts';
import { LinkError, WireError, type DropReason } from './errors.ts';
import { TAG_BYTES } from './crypto.ts';
import { buildDictionary } from './compress.ts';
import { zlibImpl } from './zstream.ts';
import { LinkSessions, type PeerChange } from './session.ts';
import { Writer } from './varint.ts';
import { B_FLOOR, B_PING, B_RESET, decodeBody, encodeAck, encodeMsgAck, type Header } from './wire.ts';
import { settings, type LinkOptions, type LinkTuning, type Settings } from './options.ts';
import { copyCounters, countDrop, newCounters, type LinkCounters, type LinkStats } from './stats.ts';
import { Recovery, type TrackedFrame } from './recovery.ts';
import { ReceivedFrames } from './acks.ts';
import { Pacer } from './pacing.ts';
import { TxStream, type SegRef } from './tx-stream.ts';
import { RxStream } from './rx-stream.ts';
import { DeliveryLedger } from './ledger.ts';
import { TimerTable, type TimerName } from './timers.ts';
import { SilenceWatch } from './silence.ts';
import type { LinkEvent } from './events.ts';

export type { LinkEvent } from './events.ts';
export type { LinkStats } from './stats.ts';
export { DEFAULT_MAX_STANZA_BYTES, windowFrames, type LinkOptions, type LinkTuning } from './options.ts';

/** What handleFrame did with a frame: taken (true), dropped (false), dropped with a frame now due ('poll'). */
export type FrameResult = boolean | 'poll';

/** A frame sent and what it carried (told back when it is acknowledged or lost). */
interface SentFrame extends TrackedFrame {
  size: number; segs: SegRef[]; msgAcks: Array<[bigint, bigint]>; floor?: bigint; reset?: number;
}

export class LinkEndpoint {
  /** This run's session (v2). */
  readonly epoch: number;
  private readonly s: Settings;
  private readonly log: CoreLogger;
  private readonly c: LinkCounters = newCounters();
  private readonly events: LinkEvent[] = [];
  private readonly sessions: LinkSessions;
  private readonly recovery: Recovery<SentFrame>;
  private readonly acks: ReceivedFrames;
  private readonly pacer: Pacer;
  private readonly tx: TxStream;
  private readonly rx: RxStream;
  private readonly ledger: DeliveryLedger;
  private readonly timers = new TimerTable();
  private readonly silence = new SilenceWatch();
  private readonly logLimit = new LogLimiter(60_000);
  private readonly hw = new Writer(32);
  private readonly bw = new Writer(2048);
  /** A PING is owed: the first frame announces the session; the keepalive. */
  private pingPending = true;
  // liveness
  private up = false;
  private lastRecvAt: number;

  constructor(opts: LinkOptions, now: number) {
    if (!Buffer.isBuffer(opts.key) || opts.key.length !== 32) throw new LinkError('LINK_BAD_OPTIONS', 'key must be 32 bytes');
    const s = (this.s = settings(opts.tuning));
    this.log = opts.logger ?? silentCoreLogger;
    const dict = buildDictionary([...opts.localDomains, ...opts.remoteDomains]);
    const v1Epoch = opts.random(4).readUInt32BE(0);
    this.sessions = new LinkSessions(opts.session ?? { local: 1 + (opts.random(4).readUInt32BE(0) >>> 1) }, v1Epoch, opts.key, opts.role);
    this.epoch = this.sessions.own[2];
    this.recovery = new Recovery<SentFrame>(s, opts.tuning, {
      acked: (f) => { this.tx.onAcked(f.segs); if (f.floor !== undefined) this.tx.onFloorAcked(f.floor); },
      lost: (at, f) => this.onFrameLost(at, f),
    }, this.c, this.log);
    this.acks = new ReceivedFrames(s.ackDelayMs);
    this.pacer = new Pacer(s);
    this.tx = new TxStream(s, dict, this.c, opts.resume?.nextSendId, opts.zlib);
    this.ledger = new DeliveryLedger(opts.resume, s.msgAckDelayMs, this.c, this.log, this.events);
    this.rx = new RxStream(s.maxStanza, dict, this.c, this.log, this.ledger, this.events, opts.zlib);
    this.lastRecvAt = now;
    this.log.debug({ epoch: this.epoch, role: opts.role, window: s.window, zlib: zlibImpl(opts.zlib) }, 'link endpoint start');
  }

  // ------------------------------------------------------------------ inputs

  /** A message to send; `id` above every id submitted before. */
  submit(id: bigint, stanza: Buffer, priority: 'high' | 'low', now: number, meta?: Uint8Array): void {
    this.tx.submit(now, id, stanza, priority, meta);
  }

  /** Ids below `id` will not be submitted; never-sent ones below it are forgotten (expired or bounced by the spool). */
  setSendFloor(id: bigint): void { this.tx.setSendFloor(id); }

  /**
   * Withdraws a submitted message that has never been put on the bearer (it
   * expired in the spool). Returns false once any part of it has been sent:
   * it will then be delivered.
   */
  cancel(id: bigint): boolean { return this.tx.cancel(id); }

  /** The host stored a delivered message durably: its MSGACK may go. */
  confirmDelivered(id: bigint, now: number): void { this.ledger.confirm(now, id); }

  /** A driver's hint that the bearer is back (a TCP connection made): probe at once what is unacknowledged. */
  bearerUp(now: number): void { this.recovery.bearerUp(now); }

  /**
   * A link with several bearers (link/bearers) now sends on bearer `index`,
   * tuned by `tuning` (its profile): frame size, rate, RTO bounds and
   * link_down_after follow it, the pacer starts afresh, RTT state is the
   * bearer's own (recovery.ts), and frames in flight are resent on it.
   * Session, sequence space, streams and the delivery ledger stay: a
   * message is delivered once whichever bearer carried it.
   */
  useBearer(now: number, index: number, tuning: LinkTuning): void {
    Object.assign(this.s, settings(tuning));
    this.pacer.reset();
    this.recovery.useBearer(now, tuning, index);
  }

  /**
   * A bearer probe for a bearer not in use: an authenticated frame that
   * repeats the ACK ranges (what is owed stays owed: an ACK lost on a dead
   * bearer must not leave the partner waiting for its RTO), which the
   * partner takes (the bearer carries frames) without answering. Before
   * anything was heard from the partner (no ACK to give) it is a PING, as
   * the first frame of a run is. Not tracked by the ARQ.
   */
  bearerProbe(now: number): Buffer | undefined {
    if (!this.recovery.seqLeft()) return undefined;
    const seq = this.recovery.takeSeq();
    const { w, body } = this.writers();
    const { version, binding } = this.sessions.header(w, seq);
    const ack = binding !== undefined ? this.acks.peek(now) : undefined;
    if (ack) encodeAck(body, ack.ranges, ack.delayMs);
    else body.u8(B_PING);
    const frame = this.sessions.seal(version, seq, w.view(), binding, body.view());
    this.recovery.sentAside(seq);
    this.c.framesSent++;
    this.c.bytesSent += frame.length;
    return frame;
  }

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

  handleTimeout(now: number): void {
    this.recovery.recover(now, this.lastRecvAt);
    this.armTimers();
    for (const name of this.timers.expired(now)) this.onTimer(now, name);
  }

  // ------------------------------------------------------------------ outputs

  pollEvent(): LinkEvent | undefined { return this.events.shift(); }

  /** Messages submitted but not yet started on the bearer (stats().waiting, without building the stats). */
  waitingCount(): number { return this.tx.waitingCount(); }

  pollTimeout(): number | undefined {
    this.armTimers();
    return this.timers.next();
  }

  /** The armed timers by name (for logs and tests). */
  timerTable(): Partial<Record<TimerName, number>> {
    this.armTimers();
    return this.timers.snapshot();
  }

  stats(): LinkStats {
    return {
      ...copyCounters(this.c),
      rttMs: this.recovery.rttMs, rtoMs: this.recovery.rtoMs(), inFlight: this.recovery.framesInFlight, window: this.recovery.window(),
      queued: this.tx.queuedCount(), unacked: this.tx.unackedCount(), waiting: this.tx.waitingCount(),
      epoch: this.epoch, peerEpoch: this.sessions.peerHeard(), txGeneration: this.tx.generation,
      peerSession: this.sessions.floor, staleSession: this.sessions.lastStale, wireVersion: this.sessions.tx,
    };
  }

  pollTransmit(now: number): Buffer | undefined {
    this.recovery.recover(now, this.lastRecvAt);
    const open = this.recovery.windowOpen();
    const msgAckAt = this.ledger.msgAckAt();
    const msgAckDue = open && msgAckAt !== undefined && msgAckAt <= now;
    const dataAt = this.pacer.dataAt(this.tx);
    const dataReady = open && this.tx.hasData() && (dataAt === undefined || dataAt <= now);
    const probeDue = (this.probeAt() ?? Infinity) <= now;
    const silenceDue = (this.silenceAt() ?? Infinity) <= now;
    const due = this.acks.isDue(now) || msgAckDue || dataReady || (open && this.rx.resetDue()) || (open && this.pingPending) || probeDue || silenceDue;
    this.ledger.disarmIfNothingOwed();
    if (!this.recovery.seqLeft()) return undefined; // 2^48 frames: a new session is needed (restart)
    const versionProbe = this.sessions.probeFrame(now, this.s.keepaliveMs || 30_000, this.recovery.peekSeq());
    if (versionProbe) {
      this.recovery.takeSeq();
      this.c.framesSent++;
      this.c.bytesSent += versionProbe.length;
      return versionProbe;
    }
    return due ? this.buildFrame(now, open, dataReady, probeDue, silenceDue) : undefined;
  }

  // ------------------------------------------------------------------ send

  /** One frame: ACK, MSGACK, RESET, FLOOR, data, PING, in that order (docs/link-protocol.md §3). */
  private buildFrame(now: number, open: boolean, dataReady: boolean, probeDue: boolean, silenceDue: boolean): Buffer {
    const seq = this.recovery.takeSeq();
    const { w, body } = this.writers();
    const { version, binding } = this.sessions.header(w, seq);
    const hdrLen = w.length;
    const f: SentFrame = { seq, builtAt: now, time: now, size: 0, ackEliciting: false, segs: [], msgAcks: [] };
    // 1. ACK, piggy-backed whenever there is news (it needs flag E: the partner's run is known)
    const ack = binding !== undefined ? this.acks.take(now) : undefined;
    if (ack) encodeAck(body, ack.ranges, ack.delayMs);
    // 2. MSGACK: ids durably stored (ack-eliciting, so inside the window)
    if (open && this.ledger.hasMsgAcks()) {
      f.msgAcks = this.ledger.takeMsgAcks();
      encodeMsgAck(body, f.msgAcks);
      f.ackEliciting = true;
    }
    // 3. RESET request for a broken inbound stream
    f.reset = this.rx.takeReset();
    if (f.reset !== undefined) { body.u8(B_RESET); body.varint(f.reset); f.ackEliciting = true; }
    // 4. FLOOR rides on data frames until a frame carrying it is acked
    f.floor = dataReady ? this.tx.floorToSend() : undefined;
    if (f.floor !== undefined) { body.u8(B_FLOOR); body.bigVarint(f.floor); }
    // 5. data: retransmissions first, then the stream head, then high before low
    if (open && this.tx.fill(body, this.s.maxFrame - TAG_BYTES - hdrLen, f.segs)) f.ackEliciting = true;
    // 6. PING if nothing else asks for an ACK; an outage probe and a silence PING (§6.2) are PINGs the ARQ does not track
    const probe = probeDue && !f.ackEliciting && !this.pingPending;
    const quiet = silenceDue && !probe && !f.ackEliciting && !this.pingPending;
    if ((this.pingPending || probe || quiet) && !f.ackEliciting) { body.u8(B_PING); f.ackEliciting = !probe && !quiet; }
    this.pingPending = false;
    if (silenceDue) this.silence.onSent(now);
    if (quiet) this.c.silencePings++;

    const frame = this.sessions.seal(version, seq, w.view(), binding, body.view());
    f.size = frame.length;
    // With a known bearer rate a frame is timed from when it will have left the driver's pacing queue.
    f.time = this.pacer.sent(now, frame.length);
    this.recovery.onSent(now, f, frame.length, probe);
    if (f.segs.some((x) => x.retx)) this.c.retransmits++;
    this.c.framesSent++;
    this.c.bytesSent += frame.length;
    this.c.headerBytes += hdrLen + TAG_BYTES;
    return frame;
  }

  /** The header and body writers, emptied (one frame is built at a time; seal copies out of them). */
  private writers(): { w: Writer; body: Writer } {
    this.hw.reset();
    this.bw.reset();
    return { w: this.hw, body: this.bw };
  }

  /** A frame is lost: its bytes, MSGACKs and RESET go again. */
  private onFrameLost(now: number, f: SentFrame): void {
    this.tx.onLost(f.segs);
    this.ledger.onMsgAcksLost(now, f.msgAcks);
    if (f.reset !== undefined) this.rx.onResetLost();
  }

  // ------------------------------------------------------------------ receive

  private drop(reason: DropReason, err?: unknown): false {
    countDrop(this.c, reason);
    if (err) this.log.debug({ reason, err: err instanceof Error ? err.message : undefined }, 'frame dropped');
    return false;
  }

  private receive(now: number, frame: Buffer): FrameResult {
    if (frame.length > this.s.rxMtu) return this.drop('too_big');
    // Header checks (session, replay window, length) before the AEAD: session.ts.
    const got = this.sessions.open(frame);
    if (typeof got === 'string') return this.drop(got) || (this.sessions.announceDue() && 'poll'); // a v1 announce goes at once
    const { h, plain } = got;
    const body = decodeBody(plain); // validate everything before any effect
    if (body.ack && !h.e) throw new WireError('malformed', 'ACK without E');

    this.c.framesReceived++;
    this.c.bytesReceived += frame.length;
    this.onPeerRun(now, this.sessions.admit(h), h);
    this.recovery.onHeard(now, this.lastRecvAt);
    this.lastRecvAt = now;
    if (!this.up) { this.up = true; this.events.push({ type: 'up' }); }

    const ackEliciting = body.ping || body.segs.length > 0 || body.msgAck !== undefined || body.floor !== undefined || body.reset !== undefined;
    this.acks.onReceived(now, h.seq, ackEliciting);
    if (body.ack) this.recovery.onAck(now, body.ack.ranges, body.ack.delayMs);
    if (body.msgAck) {
      for (const id of this.tx.onMsgAck(body.msgAck.ranges)) { this.c.acked++; this.events.push({ type: 'acked', id }); }
    }
    if (body.reset !== undefined && body.reset === this.tx.generation) this.tx.resetGeneration('peer_request', now);
    if (body.floor !== undefined) this.ledger.onPeerFloor(body.floor);
    if (body.stream !== undefined) this.rx.onData(now, body.stream, body.segs, h.session);
    this.silence.onHeard(body.segs.length > 0 || this.rx.midMessage());
    return true;
  }

  /** After admitting a frame: a new partner run (or wire version) restarts both directions. */
  private onPeerRun(now: number, change: PeerChange, h: Header): void {
    const store = this.sessions.takeStore();
    if (store) this.events.push({ type: 'session', ...store });
    const switched = this.sessions.followPartner(h);
    if (switched) this.events.push({ type: 'partner_version', version: this.sessions.tx });
    if (change !== 'same') this.acks.reset(); // the new run's seqs start afresh
    this.rx.onPeerRun(change);
    const restart = change === 'restart' || change === 'revive';
    if (!restart && !switched) return; // first contact: nothing to undo
    // Our direction restarts too (after a version switch the partner sees a new run of ours); frames in flight were bound to the old run.
    this.tx.resetGeneration(restart ? 'peer_restart' : 'version_switch', now);
    this.recovery.loseAll(now);
    this.pingPending ||= switched;
    if (!restart) return;
    this.events.push({ type: 'resync' });
    this.c.resyncs++;
    const held = this.logLimit.allow('resync', now);
    if (held !== undefined) this.log.info({ session: h.session, version: h.version, held }, 'partner restarted (a new session): link streams resynchronised');
  }

  // ------------------------------------------------------------------ timers

  /** Every deadline from the state of the parts (recomputed on each look: nothing to forget to re-arm). */
  private armTimers(): void {
    const open = this.recovery.windowOpen();
    const dataAt = this.pacer.dataAt(this.tx);
    this.timers.set('ack', this.acks.dueAt());
    this.timers.set('msgAck', open ? this.ledger.msgAckAt() : undefined);
    this.timers.set('rto', this.recovery.rtoAt());
    this.timers.set('keepalive', this.pingAt());
    this.timers.set('probe', this.probeAt());
    this.timers.set('silence', this.silenceAt());
    this.timers.set('idle', this.up ? this.lastRecvAt + this.s.deadAfterMs : undefined);
    this.timers.set('data', dataAt !== undefined && open && this.tx.hasData() ? dataAt : undefined);
  }

  /** ack, msgAck, probe and data need nothing here: the pollTransmit that follows sends what is due. */
  private onTimer(now: number, name: TimerName): void {
    switch (name) {
      case 'rto':
        this.recovery.onRto(now, this.lastRecvAt); // RFC 6298 §5.4-5.6, or a presumed outage (outage.ts)
        break;
      case 'keepalive':
        this.pingPending = true;
        break;
      case 'idle':
        this.up = false;
        this.events.push({ type: 'down' });
        this.c.downs++;
        this.log.info({ silentMs: now - this.lastRecvAt }, 'link down');
        break;
      default:
        break;
    }
  }

  /** Idle keepalive (costs bytes: only when nothing else flows; in an outage the probes stand in). */
  private pingAt(): number | undefined {
    if (this.s.keepaliveMs <= 0 || this.pingPending || this.recovery.framesInFlight > 0 || this.recovery.inOutage()) return undefined;
    return Math.max(this.lastRecvAt, this.recovery.lastAckElicitingSentAt) + this.s.keepaliveMs;
  }

  /** A silence PING (silence.ts): only while nothing of ours is in flight (then the RTO and outage probes ask); in a hold too (its probes wait for the keepalive when we have nothing to send). */
  private silenceAt(): number | undefined {
    if (this.recovery.framesInFlight > 0 || this.pingPending) return undefined;
    return this.silence.at(this.lastRecvAt, this.recovery.rtoMs(), this.s.rtoMaxMs, this.s.keepaliveMs > 0 ? this.s.keepaliveMs : this.s.deadAfterMs, this.ledger.hasMsgAcks());
  }

  /** Stanzas to deliver (or a broken inbound stream) probe at the short cadence; owed MSGACKs can wait for the partner's. */
  private probeAt(): number | undefined {
    return this.recovery.probeAt(this.lastRecvAt, this.tx.hasData() || this.rx.wantsReset());
  }
}

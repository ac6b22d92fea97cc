/**
 * Link sessions (docs/link-protocol.md §7): which run of the partner a frame
 * comes from, and whether it may change anything. Sans-IO: numbers come in
 * (SessionState, from the host's durable store) and the endpoint emits a
 * `session` event whenever the host must store a new partner session.
 *
 * v2: each run of a relay has a session number that only grows, stored on its
 * disk before the first frame uses it (the nonce prefix: never reused). Each
 * end stores the highest partner session it accepted; then, before any AEAD:
 *   - a lower session is an earlier run of the partner: dropped (stale_session);
 *   - the stored session, after this end restarted, counts only in frames
 *     bound (flag E) to this run's session, which did not exist before: its
 *     frames without E may be recordings from before the restart;
 *   - seqs of the current session pass the replay window once.
 * A higher session that authenticates is the partner's restart.
 *
 * v1 (an older satrelay as partner, until it is heard speaking v2): random
 * epochs, the last 16 retired ones remembered, as before. Replay protection
 * across restarts needs both ends upgraded.
 */
import { ReplayWindow } from './replay.ts';
import { FrameSealer } from './sealing.ts';
import { TAG_BYTES } from './crypto.ts';
import { B_PING, encodeHeader, parseHeader, type Header } from './wire.ts';
import { Writer } from './varint.ts';
import type { DropReason } from './errors.ts';

export interface SessionState {
  /** This run's session (1 .. 2^32-1): stored durably by the host before use, never used before under this key. */
  local: number;
  /** The previous run's session, if known: frames still addressed to it are told apart from forged ones. */
  previous?: number;
  /** Highest partner session accepted and stored (absent or 0: none yet). */
  peer?: number;
  /** The partner has been heard speaking v2: v1 frames are refused before any AEAD. */
  peerV2?: boolean;
  /** Speak v1 only, as the release before sessions did (v2 frames are malformed to it): tests of the upgrade path. */
  v1Only?: boolean;
}

/** What an authentic frame changed: the same partner run, the first heard in this run, a restart of it, or (v1) a retired epoch back. */
export type PeerChange = 'same' | 'first' | 'restart' | 'revive';

/** A partner run; `stored`: accepted in an earlier run of this end (its frames without E predate this run). */
interface Run { version: 1 | 2; id: number; window: ReplayWindow; top: number; heard: boolean; stored?: boolean }

export const MAX_SESSION = 2 ** 32 - 1;
const RETIRED_V1 = 16;
/** At most one v1 announce per this long (ms). */
const ANNOUNCE_MS = 1000;

export class LinkSessions {
  /** This end's id per wire version: the session (v2) and a random epoch (v1, for a partner not yet upgraded). */
  readonly own: Record<1 | 2, number>;
  /** Version of the frames this end sends: 2, or 1 while the partner is heard speaking only v1. */
  tx: 1 | 2 = 2;
  /** Highest partner session accepted (v2); the host stores it. */
  floor: number;
  partnerV2: boolean;
  /** The partner run frames are taken from (from the store until heard in this run). */
  private cur: Run | undefined;
  /** Something authentic was heard in this run. */
  private heard = false;
  /** Last session seen below the floor (for the operator's log). */
  lastStale: number | undefined;
  private readonly previous: number | undefined;
  private readonly v1Only: boolean;
  /** An authentic frame bound to this run's session arrived: the partner knows it, late frames to the previous run are rare. */
  private bound = false;
  private readonly retired = new Map<number, number>(); // v1 epoch -> highest seq seen
  private readonly sealer: FrameSealer;
  /** A v1 frame failed to open: an old partner may still bind this end's epoch from before the upgrade. */
  private v1Failed = false;
  private lastProbeAt = -Infinity;
  /** The floor or partnerV2 changed: the host must store them. */
  private dirty = false;

  constructor(s: SessionState, v1Epoch: number, psk: Buffer, role: 'a' | 'b') {
    if (!Number.isInteger(s.local) || s.local < 1 || s.local > MAX_SESSION) throw new RangeError(`session out of range: ${s.local}`);
    this.own = { 1: v1Epoch >>> 0, 2: s.local };
    this.previous = s.previous;
    this.v1Only = s.v1Only ?? false;
    if (this.v1Only) this.tx = 1;
    this.floor = s.peer ?? 0;
    this.partnerV2 = (s.peerV2 ?? false) || this.floor > 0;
    this.cur = this.floor > 0 ? { version: 2, id: this.floor, window: new ReplayWindow(), top: -1, heard: false, stored: true } : undefined;
    this.sealer = new FrameSealer(psk, role);
  }

  /**
   * Header checks, then the AEAD: the header and plaintext of a frame that may
   * be applied, or why it is dropped. Changes nothing (admit() does).
   */
  open(frame: Buffer): { h: Header; plain: Buffer } | DropReason {
    const h = parseHeader(frame);
    if (typeof h === 'string') return h;
    if (frame.length <= h.length + TAG_BYTES) return 'truncated'; // every frame has a block
    const pre = this.precheck(h);
    if (pre) return pre;
    const plain = this.sealer.open(h, frame, this.own[h.version]);
    if (plain) return { h, plain };
    // Sent by the partner to this end's previous run (it has not heard this one yet)?
    if (h.version === 2 && h.e && this.previous !== undefined && !this.bound && this.sealer.open(h, frame, this.previous)) return 'stale_session';
    if (h.version === 1) this.v1Failed = true;
    return 'auth';
  }

  private precheck(h: Header): DropReason | undefined {
    const c = this.cur;
    if (h.version === 1) {
      if (this.partnerV2) return 'old_version';
      const top = this.retired.get(h.session);
      if (top !== undefined && h.seq <= top) return 'replay';
    } else {
      if (h.session === 0 || this.v1Only) return 'malformed';
      if (h.session < this.floor) { this.lastStale = h.session; return 'stale_session'; }
      if (c?.stored && c.id === h.session && !h.e) return 'replay'; // not bound to this run: sent before the partner heard it
    }
    if (c && c.version === h.version && c.id === h.session && !c.window.check(h.seq)) return 'replay';
    return undefined;
  }

  /** After authentication and body validation: the frame is taken; returns what changed. */
  admit(h: Header): PeerChange {
    const heardBefore = this.heard;
    this.heard = true;
    let c = this.cur;
    let change: PeerChange = 'same';
    if (!c || c.version !== h.version || c.id !== h.session) {
      change = heardBefore ? 'restart' : 'first';
      if (h.version === 1) {
        if (this.retired.delete(h.session) && heardBefore) change = 'revive';
        if (c?.version === 1 && c.heard) {
          this.retired.set(c.id, c.top);
          if (this.retired.size > RETIRED_V1) this.retired.delete(this.retired.keys().next().value!);
        }
      } else {
        this.floor = h.session;
        this.dirty = true;
      }
      c = this.cur = { version: h.version, id: h.session, window: new ReplayWindow(), top: -1, heard: true };
    } else if (!c.heard) {
      c.heard = true;
      change = 'first';
    }
    if (h.version === 2) {
      this.dirty ||= !this.partnerV2;
      this.partnerV2 = true;
      if (h.e) this.bound = true;
    }
    c.window.mark(h.seq);
    if (h.seq > c.top) c.top = h.seq;
    return change;
  }

  /** What the host must store now (after a new partner session), once. */
  takeStore(): { peer: number; peerV2: boolean } | undefined {
    if (!this.dirty) return undefined;
    this.dirty = false;
    return { peer: this.floor, peerV2: this.partnerV2 };
  }

  /** The version this end should send in now; changes it when the partner's frames say so. */
  followPartner(h: Header): boolean {
    const want: 1 | 2 = h.version === 2 || this.partnerV2 ? 2 : 1;
    if (want === this.tx || this.v1Only) return false;
    this.tx = want;
    return true;
  }

  /** A v1 announce waits (probeFrame): the driver should poll now. */
  announceDue(): boolean {
    return this.v1Failed && this.tx === 2 && !this.partnerV2;
  }

  /**
   * A PING to send outside the ARQ in the other version, when due: v1 towards
   * a partner heard only in v1 frames that do not open (an older satrelay,
   * bound to this end's epoch from before the upgrade: the PING announces the
   * new one); v2 every `everyMs` while talking v1 (the partner may have been
   * upgraded). Never once the partner spoke v2.
   */
  probeFrame(now: number, everyMs: number, seq: number): Buffer | undefined {
    if (this.partnerV2 || this.v1Only) return undefined;
    const v = this.tx === 2 ? (this.v1Failed ? 1 : undefined) : 2;
    if (v === undefined || now - this.lastProbeAt < (v === 1 ? ANNOUNCE_MS : everyMs)) return undefined;
    this.lastProbeAt = now;
    this.v1Failed = false;
    const bind = this.peerBinding(v);
    const w = new Writer(16);
    encodeHeader(w, bind !== undefined, this.own[v], seq, v);
    return this.seal(v, seq, w.finish(), bind, Buffer.from([B_PING]));
  }

  /** The partner run heard in this run, if any (its session or v1 epoch). */
  peerHeard(): number | undefined {
    return this.cur?.heard ? this.cur.id : undefined;
  }

  /** Writes the header of a frame in the version this end sends; returns what seal() needs with it. */
  header(w: Writer, seq: number): { version: 1 | 2; binding: number | undefined } {
    const version = this.tx;
    const binding = this.peerBinding(version);
    encodeHeader(w, binding !== undefined, this.own[version], seq, version);
    return { version, binding };
  }

  /** Flag E binds a frame in `version` to the partner's run, once heard in this run. */
  peerBinding(version: 1 | 2): number | undefined {
    const c = this.cur;
    return c && c.heard && c.version === version ? c.id : undefined;
  }

  seal(version: 1 | 2, seq: number, hdr: Buffer, binding: number | undefined, plain: Buffer): Buffer {
    return this.sealer.seal(version, this.own[version], seq, hdr, binding, plain);
  }
}

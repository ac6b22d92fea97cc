/**
 * The send stream (docs/link-protocol.md §4): messages wait in two queues
 * (high before low); when a frame is filled each is given the next msn of the
 * current generation, compressed with the generation's deflate context and
 * cut into segments; a lost segment's bytes are sent again as they were.
 * A message leaves when the partner acknowledges its id (MSGACK), or when the
 * host withdraws it before it was ever sent (cancel, setSendFloor). A stream
 * reset starts a new generation with a fresh context: every message not yet
 * acknowledged goes back to its queue, in id order.
 */
import { LinkError } from './errors.ts';
import { StreamDeflater } from './compress.ts';
import type { ZlibImpl } from './zstream.ts';
import { RangeSet } from './ranges.ts';
import { U64_MAX, Writer, bigVarintSize, varintSize } from './varint.ts';
import { B_STREAM, MAX_META_BYTES, encodeSeg, segOverhead } from './wire.ts';
import type { LinkCounters, StreamResetReason } from './stats.ts';

interface OutMsg {
  id: bigint; stanza: Buffer; priority: 'high' | 'low'; meta?: Uint8Array;
  gen: number; msn: number; comp?: Buffer;
  need: RangeSet; acked: RangeSet; everSent: boolean; sentTo: number;
  /** Some part has been on the bearer in any generation (everSent resets on resync). */
  transmitted?: boolean;
}

/** Bytes [lo, hi] of a message's compressed form, as put in a frame of generation `gen`. */
export interface SegRef { msg: OutMsg; gen: number; lo: number; hi: number; retx: boolean }

export class TxStream {
  private gen = 0;
  private nextMsn = 0;
  private deflater: StreamDeflater;
  private readonly high: OutMsg[] = [];
  private readonly low: OutMsg[] = [];
  /** msn -> message of the current generation, not fully acknowledged frame-wise. */
  private readonly stream = new Map<number, OutMsg>();
  /** id -> message, until MSGACK. */
  private readonly unacked = new Map<bigint, OutMsg>();
  private lastSubmitted = -1n;
  private sendFloor: bigint;
  private floorAcked = -1n;
  /** When the oldest message still waiting was handed in (the coalescing clock). */
  private waitingFrom: number | undefined;

  constructor(
    private readonly s: { compressionLevel: number; maxStanza: number },
    private readonly dict: Uint8Array,
    private readonly c: LinkCounters,
    nextSendId = 0n,
    private readonly zlib?: ZlibImpl,
  ) {
    this.sendFloor = nextSendId;
    this.deflater = new StreamDeflater(s.compressionLevel, dict, zlib);
  }

  submit(now: number, id: bigint, stanza: Buffer, priority: 'high' | 'low', meta?: Uint8Array): void {
    if (typeof id !== 'bigint' || id < 0n || id > U64_MAX) throw new LinkError('LINK_BAD_ID', `id out of range: ${String(id)}`);
    if (id <= this.lastSubmitted) throw new LinkError('LINK_BAD_ID', `id ${id} not above ${this.lastSubmitted}`);
    if (stanza.length > this.s.maxStanza) throw new LinkError('LINK_STANZA_TOO_BIG', `${stanza.length} > ${this.s.maxStanza} bytes`);
    if (meta && meta.length > MAX_META_BYTES) throw new LinkError('LINK_STANZA_TOO_BIG', `meta ${meta.length} > ${MAX_META_BYTES} bytes`);
    this.lastSubmitted = id;
    const m: OutMsg = { id, stanza, priority, meta, gen: -1, msn: -1, need: new RangeSet(), acked: new RangeSet(), everSent: false, sentTo: 0 };
    this.unacked.set(id, m);
    (priority === 'high' ? this.high : this.low).push(m);
    this.waitingFrom ??= now;
  }

  /** Never-sent messages below `id` are forgotten (expired or bounced by the spool). */
  setSendFloor(id: bigint): void {
    if (id <= this.sendFloor) return;
    this.sendFloor = id;
    for (const q of [this.high, this.low]) {
      for (let i = q.length - 1; i >= 0; i--) if (q[i].id < id) { this.unacked.delete(q[i].id); q.splice(i, 1); }
    }
    this.waited();
  }

  /** Withdraws a message never put on the bearer; false once any part of it was sent. */
  cancel(id: bigint): boolean {
    const m = this.unacked.get(id);
    if (!m || m.transmitted || m.everSent || m.msn >= 0) return false;
    for (const q of [this.high, this.low]) {
      const i = q.indexOf(m);
      if (i >= 0) q.splice(i, 1);
    }
    this.unacked.delete(id);
    this.waited();
    return true;
  }

  get generation(): number { return this.gen; }
  /** Submitted, not yet started on the bearer. */
  waitingCount(): number { return this.high.length + this.low.length; }
  /** Waiting or in the stream. */
  queuedCount(): number { return this.waitingCount() + this.stream.size; }
  unackedCount(): number { return this.unacked.size; }
  get waitingSince(): number | undefined { return this.waitingFrom; }

  hasData(): boolean { return this.waitingCount() > 0 || this.streamPending(); }

  /** Bytes of messages already in the stream still to (re)send. */
  streamPending(): boolean {
    for (const m of this.stream.values()) if (!m.need.isEmpty() || (m.comp && m.comp.length === 0 && !m.everSent)) return true;
    return false;
  }

  /** Compressed / stanza bytes so far (0.5 before any). */
  compressionRatio(): number {
    return this.c.stanzaBytesOut > 0 ? this.c.compressedBytesOut / this.c.stanzaBytesOut : 0.5;
  }

  /** Whether the waiting messages come to `bytes` (stanza bytes plus a little per message). */
  waitingReaches(bytes: number): boolean {
    let raw = 0;
    for (const q of [this.high, this.low]) for (const m of q) if ((raw += m.stanza.length + 8) >= bytes) return true;
    return false;
  }

  /** A new generation with a fresh context; every message not yet acknowledged waits again, in id order. */
  resetGeneration(reason: StreamResetReason, now: number): void {
    this.gen++;
    this.nextMsn = 0;
    this.deflater.close();
    this.deflater = new StreamDeflater(this.s.compressionLevel, this.dict, this.zlib);
    this.stream.clear();
    const hi: OutMsg[] = [];
    const lo: OutMsg[] = [];
    for (const m of [...this.unacked.values()].sort((x, y) => (x.id < y.id ? -1 : 1))) {
      m.gen = -1; m.msn = -1; m.comp = undefined; m.need = new RangeSet(); m.acked = new RangeSet(); m.everSent = false; m.sentTo = 0;
      (m.priority === 'high' ? hi : lo).push(m);
    }
    this.high.length = 0; this.high.push(...hi);
    this.low.length = 0; this.low.push(...lo);
    this.waitingFrom = this.waitingCount() > 0 ? (this.waitingFrom ?? now) : undefined;
    this.c.streamResets[reason]++;
  }

  /** FLOOR to put on a data frame: the lowest id still held, until a frame carrying it is acknowledged. */
  floorToSend(): bigint | undefined {
    let f = this.lastSubmitted + 1n;
    if (this.sendFloor > f) f = this.sendFloor;
    for (const id of this.unacked.keys()) if (id < f) f = id;
    return f > this.floorAcked ? f : undefined;
  }

  onFloorAcked(floor: bigint): void { if (floor > this.floorAcked) this.floorAcked = floor; }

  /** MSGACK: the ids the partner stored; returns those this end still held. */
  onMsgAck(ranges: Array<[bigint, bigint]>): bigint[] {
    const done: bigint[] = [];
    const take = (id: bigint): void => {
      const m = this.unacked.get(id);
      if (!m) return;
      this.unacked.delete(id);
      if (m.msn >= 0 && m.gen === this.gen && !m.comp) this.stream.delete(m.msn);
      done.push(id);
    };
    for (const [lo, hi] of ranges) {
      // A short range id by id; a long one (a forged MSGACK may span 2^64) by what is held.
      if (hi - lo < BigInt(this.unacked.size)) for (let id = lo; id <= hi; id++) take(id);
      else for (const id of [...this.unacked.keys()]) if (id >= lo && id <= hi) take(id);
    }
    return done;
  }

  /** A frame carrying these segments was acknowledged. */
  onAcked(segs: SegRef[]): void {
    for (const s of segs) {
      if (!this.current(s)) continue;
      s.msg.acked.add(s.lo, s.hi);
      s.msg.need.remove(s.lo, s.hi);
      const len = s.msg.comp!.length;
      if (s.msg.acked.covers(0, Math.max(0, len - 1)) || len === 0) {
        this.stream.delete(s.msg.msn);
        s.msg.comp = undefined;
      }
    }
  }

  /** A frame carrying these segments was lost: their bytes not acknowledged by another frame go again. */
  onLost(segs: SegRef[]): void {
    for (const s of segs) {
      if (!this.current(s)) continue;
      for (let lo = s.lo; lo <= s.hi;) {
        if (s.msg.acked.has(lo)) { lo++; continue; }
        let hi = lo;
        while (hi + 1 <= s.hi && !s.msg.acked.has(hi + 1)) hi++;
        s.msg.need.add(lo, hi);
        lo = hi + 1;
      }
      if (s.lo > s.hi) s.msg.everSent = false; // empty message: send its FIRST|LAST again
    }
  }

  private current(s: SegRef): boolean { return s.gen === this.gen && s.msg.gen === s.gen && s.msg.comp !== undefined; }

  /**
   * Fills `body` up to `limit` bytes: retransmissions and the unfinished
   * stream head in msn order, then new messages, high before low (a presence
   * backlog delays a message by at most one frame). Returns whether it wrote.
   */
  fill(body: Writer, limit: number, segs: SegRef[]): boolean {
    let streamWritten = false;
    const room = (): number => limit - body.length - (streamWritten ? 0 : 1 + varintSize(this.gen));
    const put = (m: OutMsg, lo: number, maxLen: number, retx: boolean): boolean => {
      const comp = m.comp!;
      const first = lo === 0;
      const metaLen = first && m.meta ? m.meta.length : 0;
      const over = segOverhead(m.msn, lo, m.id, metaLen, Math.min(maxLen, comp.length - lo)) - (first ? 10 - bigVarintSize(m.id) : 0);
      const space = room() - over;
      if (space < 1 && !(comp.length - lo === 0 && space >= 0)) return false;
      const len = Math.min(maxLen, comp.length - lo, space);
      if (!streamWritten) { body.u8(B_STREAM); body.varint(this.gen); streamWritten = true; }
      const last = lo + len === comp.length;
      encodeSeg(body, { msn: m.msn, offset: lo, first, last, id: m.id, meta: m.meta, data: comp.subarray(lo, lo + len) }, false);
      if (len > 0) m.need.remove(lo, lo + len - 1);
      m.everSent = true;
      m.transmitted = true;
      if (lo + len > m.sentTo) m.sentTo = lo + len;
      segs.push({ msg: m, gen: this.gen, lo, hi: lo + len - 1, retx });
      if (retx) this.c.segmentsRetransmitted++;
      return true;
    };
    /** Puts what `m` still needs; false when the frame is full. */
    const putNeeded = (m: OutMsg, retx: (lo: number) => boolean): boolean => {
      if (m.comp!.length === 0 && !m.everSent) return put(m, 0, 0, false);
      for (let r = m.need.first(); r; r = m.need.first()) if (!put(m, r[0], r[1] - r[0] + 1, retx(r[0]))) return false;
      return true;
    };
    for (const m of this.stream.values()) {
      if (m.comp && !putNeeded(m, (lo) => lo < m.sentTo)) return streamWritten;
    }
    while (room() > 12) {
      const m = this.high.shift() ?? this.low.shift();
      if (!m) break;
      this.assign(m);
      if (!putNeeded(m, () => false)) break;
    }
    this.waited();
    return streamWritten;
  }

  private assign(m: OutMsg): void {
    m.gen = this.gen;
    m.msn = this.nextMsn++;
    m.comp = this.deflater.compress(m.stanza);
    this.c.compressedBytesOut += m.comp.length;
    this.c.stanzaBytesOut += m.stanza.length;
    m.need = new RangeSet();
    if (m.comp.length) m.need.add(0, m.comp.length - 1);
    m.acked = new RangeSet();
    m.everSent = false;
    m.sentTo = 0;
    this.stream.set(m.msn, m);
  }

  /** Messages left the queues: the coalescing clock stops when none waits. */
  private waited(): void { if (this.waitingCount() === 0) this.waitingFrom = undefined; }
}

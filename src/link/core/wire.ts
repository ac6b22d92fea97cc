/**
 * Frame wire format (docs/link-protocol.md has the diagrams and vectors).
 *
 *   header (cleartext, authenticated):  flags u8 | session u32 BE | seq varint
 *     flags: bits 7-6 version (10 = v2; 01 = v1, an older satrelay whose
 *            header field is a random epoch), bit 5 E (AAD carries the
 *            receiver's session), bits 4-0 zero
 *   body (encrypted): a sequence of blocks, each led by a type byte
 *   tag: 16 bytes (Poly1305)
 */
import { Reader, Writer, varintSize } from './varint.ts';
import { WireError, type DropReason } from './errors.ts';

export const VERSION = 2;
/** The previous format: the same header with a random epoch (talked only to a partner not yet upgraded). */
export const VERSION_1 = 1;
export const FLAG_E = 0x20;
export const MAX_SEQ = 2 ** 48 - 1;

export const B_ACK = 0x01;
export const B_MSGACK = 0x02;
export const B_FLOOR = 0x03;
export const B_RESET = 0x04;
export const B_PING = 0x05;
export const B_STREAM = 0x06;
/** 0x10..0x1f: SEG, low bits are flags. */
export const B_SEG = 0x10;
export const SEG_FIRST = 0x01;
export const SEG_LAST = 0x02;
export const SEG_META = 0x04;
export const SEG_TO_END = 0x08;

export const MAX_ACK_RANGES = 16;
export const MAX_MSGACK_RANGES = 16;
export const MAX_META_BYTES = 1024;

/** `session`: the sender's session number (v2) or random epoch (v1). */
export interface Header { version: 1 | 2; e: boolean; session: number; seq: number; length: number }

export function encodeHeader(w: Writer, e: boolean, session: number, seq: number, version: 1 | 2 = VERSION): void {
  w.u8((version << 6) | (e ? FLAG_E : 0));
  w.u32(session);
  w.varint(seq);
}

export function headerSize(seq: number): number { return 5 + varintSize(seq); }

/**
 * Reads a header without throwing (a flood of forged frames must stay cheap):
 * the header, or why the frame is dropped.
 */
export function parseHeader(frame: Uint8Array): Header | DropReason {
  if (frame.length < 6) return 'truncated';
  const flags = frame[0];
  const version = flags >> 6;
  if ((version !== VERSION && version !== VERSION_1) || (flags & 0x1f) !== 0) return 'malformed';
  const session = ((frame[1] << 24) | (frame[2] << 16) | (frame[3] << 8) | frame[4]) >>> 0;
  let seq = 0;
  let mul = 1;
  for (let i = 5; i < 13; i++) {
    if (i >= frame.length) return 'truncated';
    const b = frame[i];
    seq += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 5) return 'malformed'; // non-minimal varint
      if (seq > MAX_SEQ) return 'malformed';
      return { version, e: (flags & FLAG_E) !== 0, session, seq, length: i + 1 };
    }
    mul *= 128;
  }
  return 'malformed';
}

/** parseHeader that throws WireError (tests, tools). */
export function decodeHeader(frame: Uint8Array): Header {
  const h = parseHeader(frame);
  if (typeof h === 'string') throw new WireError(h, `bad header (${h})`);
  return h;
}

export interface AckBlock { largest: number; delayMs: number; ranges: Array<[number, number]> /* descending */ }
export interface MsgAckBlock { ranges: Array<[bigint, bigint]> /* descending */ }
export interface Seg { msn: number; offset: number; first: boolean; last: boolean; id?: bigint; meta?: Uint8Array; data: Uint8Array }
export interface Body {
  ack?: AckBlock;
  msgAck?: MsgAckBlock;
  floor?: bigint;
  reset?: number;
  ping: boolean;
  stream?: number;
  segs: Seg[];
}

/** ACK: largest, delay, count-1, first range length, then (gap, length) pairs (QUIC style, RFC 9000 §19.3.1). */
export function encodeAck(w: Writer, ranges: Array<[number, number]>, delayMs: number): void {
  w.u8(B_ACK);
  const [lo0, hi0] = ranges[0];
  w.varint(hi0);
  w.varint(Math.max(0, Math.round(delayMs)));
  w.varint(ranges.length - 1);
  w.varint(hi0 - lo0);
  let prevLo = lo0;
  for (let i = 1; i < ranges.length; i++) {
    const [lo, hi] = ranges[i];
    w.varint(prevLo - hi - 2);
    w.varint(hi - lo);
    prevLo = lo;
  }
}

export function encodeMsgAck(w: Writer, ranges: Array<[bigint, bigint]>): void {
  w.u8(B_MSGACK);
  w.varint(ranges.length - 1);
  const [lo0, hi0] = ranges[0];
  w.bigVarint(hi0);
  w.bigVarint(hi0 - lo0);
  let prevLo = lo0;
  for (let i = 1; i < ranges.length; i++) {
    const [lo, hi] = ranges[i];
    w.bigVarint(prevLo - hi - 2n);
    w.bigVarint(hi - lo);
    prevLo = lo;
  }
}

export function encodeSeg(w: Writer, s: Seg, toEnd: boolean): void {
  const hasMeta = s.first && s.meta !== undefined && s.meta.length > 0;
  w.u8(B_SEG | (s.first ? SEG_FIRST : 0) | (s.last ? SEG_LAST : 0) | (hasMeta ? SEG_META : 0) | (toEnd ? SEG_TO_END : 0));
  w.varint(s.msn);
  if (s.first) {
    w.bigVarint(s.id!);
    if (hasMeta) { w.varint(s.meta!.length); w.bytes(s.meta!); }
  } else {
    w.varint(s.offset);
  }
  if (!toEnd) w.varint(s.data.length);
  w.bytes(s.data);
}

/** Upper bound of a SEG block's bytes besides its data. */
export function segOverhead(msn: number, offset: number, id: bigint | undefined, metaLen: number, dataLen: number): number {
  let n = 1 + varintSize(msn) + varintSize(dataLen);
  if (offset === 0) n += 10 + (metaLen > 0 ? varintSize(metaLen) + metaLen : 0);
  else n += varintSize(offset);
  void id;
  return n;
}

export function decodeBody(plain: Uint8Array): Body {
  const r = new Reader(plain);
  const body: Body = { ping: false, segs: [] };
  while (r.left > 0) {
    const t = r.u8();
    if (t === B_ACK) {
      if (body.ack) throw new WireError('malformed', 'two ACK blocks');
      const largest = r.varint();
      const delayMs = r.varint();
      const extra = r.varint();
      if (extra >= MAX_ACK_RANGES * 4) throw new WireError('malformed', 'too many ACK ranges');
      const first = r.varint();
      if (first > largest) throw new WireError('malformed', 'ACK range below zero');
      const ranges: Array<[number, number]> = [[largest - first, largest]];
      let prevLo = largest - first;
      for (let i = 0; i < extra; i++) {
        const gap = r.varint();
        const len = r.varint();
        const hi = prevLo - gap - 2;
        const lo = hi - len;
        if (lo < 0) throw new WireError('malformed', 'ACK range below zero');
        ranges.push([lo, hi]);
        prevLo = lo;
      }
      body.ack = { largest, delayMs, ranges };
    } else if (t === B_MSGACK) {
      if (body.msgAck) throw new WireError('malformed', 'two MSGACK blocks');
      const extra = r.varint();
      if (extra >= MAX_MSGACK_RANGES * 4) throw new WireError('malformed', 'too many MSGACK ranges');
      const hi0 = r.bigVarint();
      const len0 = r.bigVarint();
      if (len0 > hi0) throw new WireError('malformed', 'MSGACK range below zero');
      const ranges: Array<[bigint, bigint]> = [[hi0 - len0, hi0]];
      let prevLo = hi0 - len0;
      for (let i = 0; i < extra; i++) {
        const gap = r.bigVarint();
        const len = r.bigVarint();
        const hi = prevLo - gap - 2n;
        const lo = hi - len;
        if (lo < 0n) throw new WireError('malformed', 'MSGACK range below zero');
        ranges.push([lo, hi]);
        prevLo = lo;
      }
      body.msgAck = { ranges };
    } else if (t === B_FLOOR) {
      body.floor = r.bigVarint();
    } else if (t === B_RESET) {
      body.reset = r.varint();
    } else if (t === B_PING) {
      body.ping = true;
    } else if (t === B_STREAM) {
      if (body.stream !== undefined) throw new WireError('malformed', 'two STREAM blocks');
      body.stream = r.varint();
    } else if ((t & 0xf0) === B_SEG) {
      if (body.stream === undefined) throw new WireError('malformed', 'SEG before STREAM');
      const first = (t & SEG_FIRST) !== 0;
      const meta = (t & SEG_META) !== 0;
      if (meta && !first) throw new WireError('malformed', 'META without FIRST');
      const msn = r.varint();
      let id: bigint | undefined;
      let m: Uint8Array | undefined;
      let offset = 0;
      if (first) {
        id = r.bigVarint();
        if (meta) {
          const ml = r.varint();
          if (ml > MAX_META_BYTES) throw new WireError('too_big', 'meta too big');
          m = r.bytes(ml);
        }
      } else {
        offset = r.varint();
        if (offset === 0) throw new WireError('malformed', 'offset 0 without FIRST');
      }
      const len = (t & SEG_TO_END) !== 0 ? r.left : r.varint();
      const data = r.bytes(len);
      body.segs.push({ msn, offset, first, last: (t & SEG_LAST) !== 0, id, meta: m, data });
    } else {
      throw new WireError('malformed', `unknown block 0x${t.toString(16)}`);
    }
  }
  return body;
}

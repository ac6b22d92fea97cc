/**
 * The spool's record layout (version 1): one binary value per record, no
 * msgpack. Every record starts with 0xc1 (a byte msgpack never emits, so a
 * record written by an older version, a msgpack object, is told apart by its
 * first byte) and the layout version. Numbers are big-endian; a string or byte
 * field is u32 length + bytes; CRC-32 (zlib, IEEE) checksums are seeded with
 * the record's key (a record moved to another key fails) and run over the raw
 * bytes of their fields.
 *
 *   out    c1 01 'o' | c u32 | h u32 | meta
 *          meta = len u32 | flags u8 | acceptedAt f64 | [from] [to] [kind] [sid] [type] [extra] ; then the stanza
 *          c = crc(key, stanza); h = crc(key, meta) (meta with its length)
 *          flags: 0x01 low priority, 0x02 from, 0x04 to, 0x08 kind, 0x10 sid, 0x20 type, 0x40 extra
 *   groups c1 01 'g' | c u32 | h u32 | p u8 (0 high, 1 low) | n u32 | n x id u64 ; then the link message
 *          c = crc(key, message); h = crc(key, p n ids)
 *   in     c1 01 'i' | h u32 | n u32 | n x c u32 | heads ; then the n parts, one after the other
 *          heads = mflag u8 | [m] | n x (len u32 | hflags u8 | [kind] [id] [from] [to] [type])
 *          c_i = crc(key, part i); h = crc(key, n, heads)
 *          hflags: 0x01 a head, 0x02 id, 0x04 from, 0x08 to, 0x10 type
 *
 * Content (c) and addressing (h) have separate checksums, so a stanza whose
 * bytes are damaged is still bounced when its head is intact.
 */
import { crc32 } from 'node:zlib';
import { crcFrom, type OutboundMeta, type Priority, type StanzaHead } from './record-types.ts';

export const MAGIC = 0xc1;
export const VERSION = 1;
const OUT = 0x6f; // 'o'
const GROUP = 0x67; // 'g'
const IN = 0x69; // 'i'

/**
 * Records are cut from shared slabs: one allocation (and one address lookup
 * in lmdb, which caches it per ArrayBuffer) per slab instead of per record,
 * whose link messages are often above Node's own pooled size. A record keeps
 * its slab alive only until lmdb has copied it in.
 */
const SLAB = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB);
let slabAt = 0;

/** Appends fields to a buffer sized for them up front (strings at 3 bytes per UTF-16 unit at most). */
class Writer {
  at = 0;
  readonly b: Buffer;
  private readonly slabbed: boolean;
  constructor(size: number) {
    this.slabbed = size <= SLAB / 8;
    if (!this.slabbed) this.b = Buffer.allocUnsafe(size);
    else {
      if (slabAt + size > SLAB) {
        slab = Buffer.allocUnsafeSlow(SLAB);
        slabAt = 0;
      }
      this.b = slab.subarray(slabAt, slabAt + size);
    }
  }
  u8(v: number): void {
    this.b[this.at++] = v;
  }
  u32(v: number): void {
    this.b.writeUInt32BE(v >>> 0, this.at);
    this.at += 4;
  }
  str(s: string): void {
    const n = this.b.write(s, this.at + 4, 'utf8');
    this.b.writeUInt32BE(n, this.at);
    this.at += 4 + n;
  }
  bytes(u: Uint8Array): void {
    this.u32(u.length);
    this.b.set(u, this.at);
    this.at += u.length;
  }
  /** The record; of a slab only the bytes written are taken (8-byte aligned). */
  done(): Buffer {
    if (this.slabbed) slabAt += (this.at + 7) & ~7;
    return this.b.subarray(0, this.at);
  }
}

/** Reads fields; a field running past the end throws RangeError (the record is damaged). */
class Reader {
  constructor(readonly b: Buffer, public at: number) {}
  u8(): number {
    if (this.at >= this.b.length) throw new RangeError('short record');
    return this.b[this.at++];
  }
  u32(): number {
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  raw(): Buffer {
    const n = this.u32();
    if (this.at + n > this.b.length) throw new RangeError('short record');
    const r = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return r;
  }
  str(): string {
    return this.raw().toString('utf8');
  }
}

const strSize = (s: string | undefined): number => (s === undefined ? 0 : 4 + 3 * s.length);

/** True when `raw` is a record in this layout (of any version): else it is an older msgpack record. */
export function isLayout(raw: Uint8Array): boolean {
  return raw.length > 0 && raw[0] === MAGIC;
}

export function encodeOut(key: Buffer, s: Uint8Array, m: OutboundMeta): Buffer {
  const size = 20 + 8 + strSize(m.from) + strSize(m.to) + strSize(m.kind) + strSize(m.sid) + strSize(m.type) + (m.extra ? 4 + m.extra.length : 0) + s.length;
  const w = new Writer(size);
  w.u8(MAGIC);
  w.u8(VERSION);
  w.u8(OUT);
  w.at = 15; // c, h and the meta's length once known
  let flags = m.priority === 'low' ? 0x01 : 0;
  w.u8(0);
  w.b.writeDoubleBE(m.acceptedAt, w.at);
  w.at += 8;
  if (m.from !== undefined) (flags |= 0x02), w.str(m.from);
  if (m.to !== undefined) (flags |= 0x04), w.str(m.to);
  if (m.kind !== undefined) (flags |= 0x08), w.str(m.kind);
  if (m.sid !== undefined) (flags |= 0x10), w.str(m.sid);
  if (m.type !== undefined) (flags |= 0x20), w.str(m.type);
  if (m.extra !== undefined) (flags |= 0x40), w.bytes(m.extra);
  w.b[15] = flags;
  w.b.writeUInt32BE(w.at - 15, 11);
  return sealTail(w, key, s);
}

/** Appends the content `s` and writes c = crc(key, s) at 3 and h = crc(key, bytes 11 up to `s`) at 7. */
function sealTail(w: Writer, key: Buffer, s: Uint8Array): Buffer {
  const end = w.at;
  w.b.set(s, end);
  w.at += s.length;
  const k = crc32(key);
  w.b.writeUInt32BE(crcFrom(s, k), 3);
  w.b.writeUInt32BE(crcFrom(w.b.subarray(11, end), k), 7);
  return w.done();
}

export interface OutDecoded { stanzaOk: boolean; stanza?: Buffer; meta?: OutboundMeta }

/** Decodes and checks an outbound record; throws RangeError when its structure is broken. */
export function decodeOut(key: Buffer, b: Buffer): OutDecoded {
  if (b[1] !== VERSION || b[2] !== OUT) return { stanzaOk: false };
  const k = crc32(key);
  const metaEnd = 15 + b.readUInt32BE(11);
  if (metaEnd > b.length) return { stanzaOk: false };
  const stanza = b.subarray(metaEnd);
  const stanzaOk = b.readUInt32BE(3) === crcFrom(stanza, k);
  if (b.readUInt32BE(7) !== crcFrom(b.subarray(11, metaEnd), k)) return { stanzaOk, stanza };
  const r = new Reader(b.subarray(0, metaEnd), 15);
  const flags = r.u8();
  const meta: OutboundMeta = { priority: flags & 0x01 ? 'low' : 'high', acceptedAt: b.readDoubleBE(r.at) };
  r.at += 8;
  if (flags & 0x02) meta.from = r.str();
  if (flags & 0x04) meta.to = r.str();
  if (flags & 0x08) meta.kind = r.str();
  if (flags & 0x10) meta.sid = r.str();
  if (flags & 0x20) meta.type = r.str();
  if (flags & 0x40) meta.extra = Uint8Array.from(r.raw());
  return { stanzaOk, stanza, meta };
}

export function encodeGroup(key: Buffer, ids: readonly bigint[], s: Uint8Array, p: Priority): Buffer {
  const w = new Writer(16 + 8 * ids.length + s.length);
  w.u8(MAGIC);
  w.u8(VERSION);
  w.u8(GROUP);
  w.at = 11;
  w.u8(p === 'low' ? 1 : 0);
  w.u32(ids.length);
  for (const id of ids) {
    w.b.writeBigUInt64BE(id, w.at);
    w.at += 8;
  }
  return sealTail(w, key, s);
}

export interface GroupDecoded { bytesOk: boolean; stanza?: Buffer; ids?: bigint[]; priority?: Priority }

/** Decodes and checks a link-message record; `ids` and `priority` only when intact. */
export function decodeGroup(key: Buffer, b: Buffer): GroupDecoded {
  if (b[1] !== VERSION || b[2] !== GROUP) return { bytesOk: false };
  const n = b.readUInt32BE(12);
  const end = 16 + 8 * n;
  if (end > b.length) return { bytesOk: false };
  const k = crc32(key);
  const stanza = b.subarray(end);
  const bytesOk = b.readUInt32BE(3) === crcFrom(stanza, k);
  if (b.readUInt32BE(7) !== crcFrom(b.subarray(11, end), k) || b[11] > 1) return { bytesOk, stanza };
  const ids: bigint[] = new Array<bigint>(n);
  for (let i = 0; i < n; i++) ids[i] = b.readBigUInt64BE(16 + 8 * i);
  return { bytesOk, stanza, ids, priority: b[11] === 1 ? 'low' : 'high' };
}

/** One stanza of an inbound record: its length and head. */
export interface InPartLayout { length: number; head: StanzaHead | null }

export function encodeIn(key: Buffer, s: Buffer, m: Uint8Array | undefined, parts: InPartLayout[]): Buffer {
  let size = 12 + 4 * parts.length + 1 + (m ? 4 + m.length : 0) + s.length;
  for (const p of parts) size += 5 + (p.head ? strSize(p.head.kind) + strSize(p.head.id) + strSize(p.head.from) + strSize(p.head.to) + strSize(p.head.type) : 0);
  const w = new Writer(size);
  w.u8(MAGIC);
  w.u8(VERSION);
  w.u8(IN);
  w.at = 7;
  w.u32(parts.length);
  const k = crc32(key);
  let at = 0;
  for (const p of parts) {
    w.u32(crcFrom(s.subarray(at, at + p.length), k));
    at += p.length;
  }
  const headsAt = w.at;
  if (m) {
    w.u8(1);
    w.bytes(m);
  } else w.u8(0);
  for (const p of parts) {
    w.u32(p.length);
    const h = p.head;
    if (!h) {
      w.u8(0);
      continue;
    }
    w.u8(0x01 | (h.id !== undefined ? 0x02 : 0) | (h.from !== undefined ? 0x04 : 0) | (h.to !== undefined ? 0x08 : 0) | (h.type !== undefined ? 0x10 : 0));
    w.str(h.kind);
    if (h.id !== undefined) w.str(h.id);
    if (h.from !== undefined) w.str(h.from);
    if (h.to !== undefined) w.str(h.to);
    if (h.type !== undefined) w.str(h.type);
  }
  const end = w.at;
  w.b.set(s, end);
  w.at += s.length;
  w.b.writeUInt32BE(crcFrom(w.b.subarray(headsAt, end), crc32(w.b.subarray(7, 11), k)), 3);
  return w.done();
}

export interface InDecoded {
  /** Part lengths add up and the heads' checksum holds. */
  headsOk: boolean;
  parts: Array<{ bytes: Buffer; ok: boolean; head?: StanzaHead }>;
  meta?: Uint8Array;
}

/** Decodes and checks an inbound record (`withParts` false: its heads only, parts left out); undefined when its lengths cannot be trusted. */
export function decodeIn(key: Buffer, b: Buffer, withParts = true): InDecoded | undefined {
  if (b[1] !== VERSION || b[2] !== IN) return undefined;
  const n = b.readUInt32BE(7);
  const headsAt = 11 + 4 * n;
  if (headsAt > b.length) return undefined;
  const r = new Reader(b, headsAt);
  const meta = r.u8() === 1 ? Uint8Array.from(r.raw()) : undefined;
  const lengths: number[] = [];
  const heads: Array<StanzaHead | undefined> = [];
  for (let i = 0; i < n; i++) {
    lengths.push(r.u32());
    const f = r.u8();
    if (!(f & 0x01)) {
      heads.push(undefined);
      continue;
    }
    const h: StanzaHead = { kind: r.str() };
    if (f & 0x02) h.id = r.str();
    if (f & 0x04) h.from = r.str();
    if (f & 0x08) h.to = r.str();
    if (f & 0x10) h.type = r.str();
    heads.push(h);
  }
  const end = r.at;
  const k = crc32(key);
  if (lengths.reduce((a, x) => a + x, end) !== b.length) return undefined;
  const headsOk = b.readUInt32BE(3) === crcFrom(b.subarray(headsAt, end), crc32(b.subarray(7, 11), k));
  const parts: InDecoded['parts'] = [];
  let at = end;
  for (let i = 0; withParts && i < n; i++) {
    const bytes = b.subarray(at, at + lengths[i]);
    at += lengths[i];
    const head = headsOk ? heads[i] : undefined;
    parts.push({ bytes, ok: b.readUInt32BE(11 + 4 * i) === crcFrom(bytes, k), ...(head ? { head } : {}) });
  }
  return { headsOk, parts, meta: headsOk ? meta : undefined };
}

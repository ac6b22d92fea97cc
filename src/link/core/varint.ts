/**
 * Unsigned LEB128 varints (7 bits per byte, low group first, high bit = more).
 * Numbers up to 2^53-1, bigints up to 2^64-1 (10 bytes).
 */
import { WireError } from './errors.ts';

export const U64_MAX = (1n << 64n) - 1n;

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) { v = Math.floor(v / 128); n++; }
  return n;
}

export function bigVarintSize(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) { v >>= 7n; n++; }
  return n;
}

/** Growable byte writer. */
export class Writer {
  private buf: Buffer;
  length = 0;
  constructor(size = 256) { this.buf = Buffer.allocUnsafe(size); }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void { this.room(1); this.buf[this.length++] = v & 0xff; }
  u32(v: number): void { this.room(4); this.buf.writeUInt32BE(v >>> 0, this.length); this.length += 4; }
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.room(8);
    while (v >= 0x80) { this.buf[this.length++] = (v % 128) | 0x80; v = Math.floor(v / 128); }
    this.buf[this.length++] = v;
  }
  bigVarint(v: bigint): void {
    if (v < 0n || v > U64_MAX) throw new RangeError(`u64 out of range: ${v}`);
    this.room(10);
    while (v >= 0x80n) { this.buf[this.length++] = Number(v & 0x7fn) | 0x80; v >>= 7n; }
    this.buf[this.length++] = Number(v);
  }
  bytes(b: Uint8Array): void { this.room(b.length); this.buf.set(b, this.length); this.length += b.length; }
  finish(): Buffer { return Buffer.from(this.buf.subarray(0, this.length)); }
  /** The bytes written, without a copy: valid until the next write or reset. */
  view(): Buffer { return this.buf.subarray(0, this.length); }
  /** Empties the writer for the next frame (its buffer is kept). */
  reset(): void { this.length = 0; }
}

/** Bounds-checked reader; every failure is a WireError (never a RangeError). */
export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array, private readonly end = buf.length) {}
  get left(): number { return this.end - this.pos; }
  u8(): number {
    if (this.pos >= this.end) throw new WireError('truncated', 'u8 past end');
    return this.buf[this.pos++];
  }
  u32(): number {
    if (this.pos + 4 > this.end) throw new WireError('truncated', 'u32 past end');
    const b = this.buf;
    const v = ((b[this.pos] << 24) | (b[this.pos + 1] << 16) | (b[this.pos + 2] << 8) | b[this.pos + 3]) >>> 0;
    this.pos += 4;
    return v;
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new WireError('malformed', 'non-minimal varint');
        if (!Number.isSafeInteger(v)) throw new WireError('malformed', 'varint too large');
        return v;
      }
      mul *= 128;
    }
    throw new WireError('malformed', 'varint too long');
  }
  bigVarint(): bigint {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) {
        if (i > 0 && b === 0) throw new WireError('malformed', 'non-minimal varint');
        if (v > U64_MAX) throw new WireError('malformed', 'u64 varint too large');
        return v;
      }
    }
    throw new WireError('malformed', 'u64 varint too long');
  }
  bytes(n: number): Uint8Array {
    if (n > this.left) throw new WireError('truncated', 'bytes past end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/**
 * Serial framing: COBS-stuffed frames with a CRC-32 trailer, 0x00 delimited.
 *
 *   on the wire:  [0x00]? COBS( payload || CRC-32(payload) as u32 LE ) 0x00
 *
 * COBS (Cheshire & Baker, "Consistent Overhead Byte Stuffing", 1999) removes
 * every 0x00 from the body, so 0x00 only ever marks a frame boundary and a
 * receiver resynchronises at the next 0x00 after garbage or a lost byte.
 * CRC-32 is the IEEE 802.3 polynomial (zlib.crc32). The optional leading 0x00
 * is sent when the line was idle, so line noise before a frame ends up in an
 * empty or bad frame of its own instead of spoiling the real one.
 * Overhead: 1 byte per 254 + 4 (CRC) + 1 or 2 (delimiters).
 */
import { crc32 } from 'node:zlib';
import { Metrics } from '../../obs/metrics.ts';

const CRC_LEN = 4;

/** Largest encoded size (without delimiters) for a payload of n bytes. */
export function maxEncodedLength(n: number): number {
  const body = n + CRC_LEN;
  return body + Math.ceil(body / 254) + 1;
}

/** COBS-encodes `data` into `out` at `pos`; returns the new position. */
function cobsEncodeInto(data: Buffer, out: Buffer, pos: number): number {
  let codeAt = pos++;
  let code = 1;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b === 0) {
      out[codeAt] = code;
      codeAt = pos++;
      code = 1;
    } else {
      out[pos++] = b;
      if (++code === 0xff) {
        out[codeAt] = code;
        codeAt = pos++;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return pos;
}

/** COBS-decodes a body without delimiters; undefined if malformed. */
export function cobsDecode(body: Buffer): Buffer | undefined {
  const out = Buffer.allocUnsafe(body.length);
  let o = 0;
  let i = 0;
  while (i < body.length) {
    const code = body[i++];
    if (code === 0) return undefined;
    const end = i + code - 1;
    if (end > body.length) return undefined;
    for (; i < end; i++) {
      if (body[i] === 0) return undefined;
      out[o++] = body[i];
    }
    if (code !== 0xff && i < body.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}

/** Encodes one frame: [0x00 if leadingDelimiter] COBS(payload || crc32 LE) 0x00. */
export function encodeSerialFrame(payload: Buffer, opts: { leadingDelimiter?: boolean } = {}): Buffer {
  const body = Buffer.allocUnsafe(payload.length + CRC_LEN);
  payload.copy(body, 0);
  body.writeUInt32LE(crc32(payload), payload.length);
  const out = Buffer.allocUnsafe(maxEncodedLength(payload.length) + 2);
  let pos = 0;
  if (opts.leadingDelimiter) out[pos++] = 0;
  pos = cobsEncodeInto(body, out, pos);
  out[pos++] = 0;
  return out.subarray(0, pos);
}

export type SerialDropReason = 'crc' | 'cobs' | 'runt' | 'oversize';

export interface SerialDecoderStats {
  frames: number;
  dropped: Record<SerialDropReason, number>;
}

/**
 * Incremental decoder: push any chunking of the byte stream, get whole
 * payloads back. Bad frames are dropped and counted (metric
 * `serial_frames_dropped_total{reason}`), never thrown.
 */
export class SerialFrameDecoder {
  readonly stats: SerialDecoderStats = { frames: 0, dropped: { crc: 0, cobs: 0, runt: 0, oversize: 0 } };
  private readonly buf: Buffer;
  private len = 0;
  private discarding = false;
  private readonly metrics: Metrics;
  private readonly labels: Record<string, string>;

  /** `maxPayload`: largest payload accepted; longer runs are dropped as 'oversize'. */
  constructor(opts: { maxPayload: number; metrics?: Metrics; link?: string }) {
    this.buf = Buffer.allocUnsafe(maxEncodedLength(opts.maxPayload));
    this.metrics = opts.metrics ?? new Metrics();
    this.labels = { link: opts.link ?? '' };
  }

  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      const z = chunk.indexOf(0, i);
      const end = z < 0 ? chunk.length : z;
      if (!this.discarding) {
        const n = end - i;
        if (this.len + n > this.buf.length) {
          this.discarding = true;
          this.len = 0;
        } else {
          chunk.copy(this.buf, this.len, i, end);
          this.len += n;
        }
      }
      if (z < 0) break;
      // delimiter
      if (this.discarding) this.drop('oversize');
      else if (this.len > 0) this.finish(frames);
      this.discarding = false;
      this.len = 0;
      i = z + 1;
    }
    return frames;
  }

  private finish(frames: Buffer[]): void {
    const body = cobsDecode(this.buf.subarray(0, this.len));
    if (!body) return this.drop('cobs');
    if (body.length < CRC_LEN) return this.drop('runt');
    const payload = body.subarray(0, body.length - CRC_LEN);
    if (crc32(payload) !== body.readUInt32LE(payload.length)) return this.drop('crc');
    this.stats.frames++;
    frames.push(Buffer.from(payload));
  }

  private drop(reason: SerialDropReason): void {
    this.stats.dropped[reason]++;
    this.metrics.inc('serial_frames_dropped_total', { ...this.labels, reason });
  }

  /** Total frames dropped for any reason. */
  get droppedTotal(): number {
    const d = this.stats.dropped;
    return d.crc + d.cobs + d.runt + d.oversize;
  }
}

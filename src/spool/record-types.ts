/** What spool records hold (record-layout.ts, legacy-records.ts), the checksum they share and the helpers both readers use. */
import { crc32 } from 'node:zlib';

export type Priority = 'high' | 'low';

/** What a bounce needs to know about a stanza: its kind and addressing (never its payload). */
export interface StanzaHead {
  kind: string;
  id?: string;
  from?: string;
  to?: string;
  type?: string;
}

export interface OutboundMeta {
  priority: Priority;
  from?: string;
  to?: string;
  /** Wall-clock ms (Date.now()) when the stanza was accepted. */
  acceptedAt: number;
  extra?: Uint8Array;
  /** Element name, `id` and `type` of the stanza (for a bounce when its stored bytes are damaged). */
  kind?: string;
  sid?: string;
  type?: string;
}

/** How a record read back: intact, written before checksums ("unchecked"), or damaged. */
export type Verdict = 'ok' | 'unchecked' | 'damaged';

/**
 * CRC-32 (zlib, IEEE) of `data` continuing from `seed`. Empty data leaves the
 * seed as it is (node's crc32 gives 0 for an empty buffer without memory behind it).
 */
export function crcFrom(data: Uint8Array | string, seed: number): number {
  return data.length === 0 ? seed : crc32(data, seed);
}

/** CRC-32 of the key, then of each piece in turn. */
export function checksum(key: Buffer, ...pieces: Array<Buffer | Uint8Array | string>): number {
  let c = crc32(key);
  for (const p of pieces) c = crcFrom(p, c);
  return c;
}

/** A stored value as bytes: a Buffer over the same memory. */
export const asBuffer = (u: Uint8Array): Buffer => (Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength));

/** f(), or `failed` when it throws (a length or field running past the record's end, a value of the wrong shape). */
export function attempt<T>(f: () => T, failed: T): T {
  try {
    return f();
  } catch {
    return failed;
  }
}

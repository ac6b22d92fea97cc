/**
 * The spool's state values ('seq', 'gseq', 'gbase': an id; 'dut': delivered
 * up to and the ids held above it), binary like the records
 * (record-layout.ts), with a checksum seeded with the key:
 *
 *   c1 01 's' | c u32 | id u64                      seq, gseq, gbase
 *   c1 01 's' | c u32 | d u64 | n u32 | n x id u64  dut
 *   c = crc(key, the bytes after it)
 *
 * Values the previous release wrote (msgpack { v, c: crc(key, JSON of v) },
 * or v alone from before checksums) still read. Read back as decimal
 * strings ({ d, a } for 'dut'), as they always were.
 */
import { crc32 } from 'node:zlib';
import { checksum, crcFrom } from './record-types.ts';
import { MAGIC, VERSION } from './record-layout.ts';
import { decodeLegacy } from './legacy-records.ts';

const STATE = 0x73; // 's'

/** A state value that fails its checksum or has the wrong shape. */
export const DAMAGED = Symbol('damaged');

/** Delivered-up-to state: decimal strings. */
export interface InStateValue { d: string; a: string[] }

const isDut = (key: string): boolean => key.startsWith('dut\0');

/** A state value to store: an id (decimal string), or { d, a } for a 'dut' key. */
export function sealState(key: string, v: string | InStateValue): Buffer {
  const ids = typeof v === 'string' ? [v] : [v.d, ...v.a];
  const dut = typeof v !== 'string';
  const b = Buffer.allocUnsafe(7 + 8 * ids.length + (dut ? 4 : 0));
  b[0] = MAGIC;
  b[1] = VERSION;
  b[2] = STATE;
  let at = 7;
  b.writeBigUInt64BE(BigInt(ids[0]), at);
  at += 8;
  if (dut) {
    b.writeUInt32BE(ids.length - 1, at);
    at += 4;
    for (let i = 1; i < ids.length; i++, at += 8) b.writeBigUInt64BE(BigInt(ids[i]), at);
  }
  b.writeUInt32BE(crcFrom(b.subarray(7), crc32(Buffer.from(key, 'utf8'))), 3);
  return b;
}

function decodeState(key: string, b: Buffer): unknown {
  if (b.length < 15 || b[1] !== VERSION || b[2] !== STATE) return DAMAGED;
  if (b.readUInt32BE(3) !== crcFrom(b.subarray(7), crc32(Buffer.from(key, 'utf8')))) return DAMAGED;
  const d = b.readBigUInt64BE(7).toString();
  if (!isDut(key)) return b.length === 15 ? d : DAMAGED;
  if (b.length < 19) return DAMAGED;
  const n = b.readUInt32BE(15);
  if (b.length !== 19 + 8 * n) return DAMAGED;
  const a: string[] = [];
  for (let i = 0; i < n; i++) a.push(b.readBigUInt64BE(19 + 8 * i).toString());
  return { d, a };
}

const DECIMAL = /^\d{1,20}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

function legacyState(key: string, raw: unknown): unknown {
  if (raw === undefined) return DAMAGED;
  let v: unknown = raw;
  if (isObj(raw) && 'c' in raw && 'v' in raw) {
    let c: number | undefined;
    try {
      c = checksum(Buffer.from(key, 'utf8'), JSON.stringify(raw.v));
    } catch {
      c = undefined;
    }
    if (raw.c !== c) return DAMAGED;
    v = raw.v;
  }
  if (isDut(key)) {
    const d = v as { d?: unknown; a?: unknown };
    return isObj(d) && typeof d.d === 'string' && DECIMAL.test(d.d) && Array.isArray(d.a) && d.a.every((x) => typeof x === 'string' && DECIMAL.test(x)) ? v : DAMAGED;
  }
  return typeof v === 'string' && DECIMAL.test(v) ? v : DAMAGED;
}

/** A state value: undefined when absent, DAMAGED when unreadable. Values written before checksums are taken as they are. */
export function readState(db: { getBinary(key: string): Uint8Array | undefined }, key: string): unknown {
  let raw: Uint8Array | undefined;
  try {
    raw = db.getBinary(key);
  } catch {
    return DAMAGED;
  }
  if (raw === undefined) return undefined;
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (b.length > 0 && b[0] === MAGIC) return decodeState(key, b);
  return legacyState(key, decodeLegacy(b));
}

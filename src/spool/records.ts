/**
 * Spool records on disk and their checksums.
 *
 * Keys (binary, ordered):  utf8(link) 0x00 u64be(id)
 * Every record carries CRC-32 (zlib, IEEE) checksums, each seeded with the
 * record's key, so a record that moved to another key fails too:
 *   out     { s, m, c: crc(s), h: crc(meta) }
 *   groups  { ids, s, p, c: crc(s), h: crc(ids, p) }
 *   in      { s, m?, l: part lengths, c: [crc per part], hs: part heads, h: crc(l, hs, m) }
 * A record written before checksums existed has no `c`: it is read as it is
 * ("unchecked"). Content and addressing have separate checksums, so a record
 * whose bytes are damaged can still be bounced to a sender whose address is intact.
 */
import { crc32 } from 'node:zlib';
import { SpoolError } from './errors.ts';

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

/** Inbound metadata is opaque to the spool (whatever the link core passed along). */
export type InboundMeta = Uint8Array | undefined;

export interface OutRecord { s: Buffer; m: OutboundMeta; c?: number; h?: number }
/** A link message: the spooled stanzas it carries and its exact bytes (ids as decimal strings). */
export interface GroupRecord { ids: string[]; s: Buffer; p: Priority; c?: number; h?: number }
export interface InRecord { s: Buffer; m?: Uint8Array; l?: number[]; c?: number[]; hs?: Array<StanzaHead | null>; h?: number }

/** One stanza of a multi-stanza inbound message, as the caller split it. */
export interface PartInfo { length: number; head?: StanzaHead }

const U64_MAX = (1n << 64n) - 1n;

/** utf8(link) 0x00 per link name, so a key costs one allocation (link names are few: the configured links). */
const prefixes = new Map<string, Buffer>();

function prefixOf(link: string): Buffer {
  let p = prefixes.get(link);
  if (!p) {
    if (prefixes.size >= 1024) prefixes.clear();
    const name = Buffer.from(link, 'utf8');
    p = Buffer.alloc(name.length + 1);
    name.copy(p, 0);
    prefixes.set(link, p);
  }
  return p;
}

export function keyOf(link: string, id: bigint): Buffer {
  if (id < 0n || id > U64_MAX) throw new SpoolError('SPOOL_BAD_ID', `id out of range: ${id}`);
  const p = prefixOf(link);
  const k = Buffer.allocUnsafe(p.length + 8);
  p.copy(k, 0);
  k.writeBigUInt64BE(id, p.length);
  return k;
}

export function idOf(key: Buffer): bigint {
  return key.readBigUInt64BE(key.length - 8);
}

export function linkOf(key: Buffer): string {
  return key.subarray(0, key.length - 9).toString('utf8');
}

export function rangeOf(link: string): { start: Buffer; end: Buffer } {
  return { start: keyOf(link, 0n), end: Buffer.concat([Buffer.from(link, 'utf8'), Buffer.from([1])]) };
}

/** CRC-32 of the key, then of each piece in turn. */
export function checksum(key: Buffer, ...pieces: Array<Buffer | Uint8Array | string>): number {
  let c = crc32(key);
  for (const p of pieces) c = crc32(p, c);
  return c;
}

const hex = (u?: Uint8Array) => (u ? Buffer.from(u).toString('hex') : null);

function metaText(m: OutboundMeta): string {
  return JSON.stringify([m.priority, m.from ?? null, m.to ?? null, m.acceptedAt, m.kind ?? null, m.sid ?? null, m.type ?? null, hex(m.extra)]);
}

function headsText(l: number[], hs: Array<StanzaHead | null>, m?: Uint8Array): string {
  return JSON.stringify([l, hs.map((h) => (h ? [h.kind, h.id ?? null, h.from ?? null, h.to ?? null, h.type ?? null] : null)), hex(m)]);
}

/** The stanza head kept with an outbound record's meta. */
export function headOfMeta(m: OutboundMeta | undefined): StanzaHead | undefined {
  if (!m?.kind) return undefined;
  return { kind: m.kind, id: m.sid, from: m.from, to: m.to, type: m.type };
}

export function sealOut(key: Buffer, s: Buffer, m: OutboundMeta): OutRecord {
  const k = crc32(key); // both checksums start from the key's
  return { s, m, c: crc32(s, k), h: crc32(metaText(m), k) };
}

export function sealGroup(key: Buffer, ids: string[], s: Buffer, p: Priority): GroupRecord {
  return { ids, s, p, c: checksum(key, s), h: checksum(key, JSON.stringify([ids, p])) };
}

/** An inbound record: `parts` splits `s` (their lengths must add up to it); none = one part. */
export function sealIn(key: Buffer, s: Buffer, m: Uint8Array | undefined, parts?: PartInfo[]): InRecord {
  const split = parts && parts.length > 0 && parts.reduce((a, p) => a + p.length, 0) === s.length ? parts : [{ length: s.length }];
  const l = split.map((p) => p.length);
  const hs = split.map((p) => p.head ?? null);
  const c: number[] = [];
  let at = 0;
  for (const n of l) {
    c.push(checksum(key, s.subarray(at, at + n)));
    at += n;
  }
  const rec: InRecord = { s, l, c, hs, h: checksum(key, headsText(l, hs, m)) };
  if (m !== undefined) rec.m = m;
  return rec;
}

/** How a record read back: intact, written before checksums ("unchecked"), or damaged. */
export type Verdict = 'ok' | 'unchecked' | 'damaged';

const isBuf = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export interface OutCheck { stanza: Verdict; meta?: OutboundMeta }

/** Checks an outbound record; `meta` is given only when it is intact (or unchecked). */
export function verifyOut(key: Buffer, rec: unknown): OutCheck {
  if (!isObj(rec) || !isBuf(rec.s) || !isObj(rec.m)) return { stanza: 'damaged' };
  const r = rec as unknown as OutRecord;
  if (r.c === undefined) return { stanza: 'unchecked', meta: r.m };
  const metaOk = safe(() => r.h === checksum(key, metaText(r.m)));
  return { stanza: r.c === checksum(key, r.s) ? 'ok' : 'damaged', meta: metaOk ? r.m : undefined };
}

export interface GroupCheck { bytes: Verdict; ids?: bigint[]; priority?: Priority }

/** Checks a link-message record; `ids` and `priority` are given only when intact (or unchecked). */
export function verifyGroup(key: Buffer, rec: unknown): GroupCheck {
  if (!isObj(rec) || !isBuf(rec.s) || !Array.isArray(rec.ids)) return { bytes: 'damaged' };
  const r = rec as unknown as GroupRecord;
  const ids = safe(() => r.ids.map((i) => BigInt(i)));
  if (r.c === undefined) return ids ? { bytes: 'unchecked', ids, priority: r.p } : { bytes: 'damaged' };
  const idsOk = ids !== undefined && (r.p === 'high' || r.p === 'low') && r.h === checksum(key, JSON.stringify([r.ids, r.p]));
  return { bytes: r.c === checksum(key, r.s) ? 'ok' : 'damaged', ids: idsOk ? ids : undefined, priority: idsOk ? r.p : undefined };
}

export interface InPart { bytes: Buffer; ok: boolean; head?: StanzaHead }
export interface InCheck { verdict: Verdict; parts: InPart[]; meta?: Uint8Array }

/** Checks an inbound record part by part; heads are given only when intact. */
export function verifyIn(key: Buffer, rec: unknown): InCheck {
  if (!isObj(rec) || !isBuf(rec.s)) return { verdict: 'damaged', parts: [] };
  const r = rec as unknown as InRecord;
  const s = Buffer.from(r.s.buffer, r.s.byteOffset, r.s.byteLength);
  if (r.c === undefined) return { verdict: 'unchecked', parts: [{ bytes: s, ok: true }], meta: r.m };
  const shaped = Array.isArray(r.l) && Array.isArray(r.c) && Array.isArray(r.hs) && r.l.length === r.c.length && r.hs.length === r.l.length;
  const lengthsOk = shaped && r.l!.every((n) => Number.isInteger(n) && n >= 0) && r.l!.reduce((a, n) => a + n, 0) === s.length;
  const headsOk = lengthsOk && safe(() => r.h === checksum(key, headsText(r.l!, r.hs!, r.m)));
  if (!lengthsOk) return { verdict: 'damaged', parts: [{ bytes: s, ok: false }] };
  const parts: InPart[] = [];
  let at = 0;
  r.l!.forEach((n, i) => {
    const bytes = s.subarray(at, at + n);
    at += n;
    const head = headsOk ? (r.hs![i] ?? undefined) : undefined;
    parts.push({ bytes, ok: r.c![i] === checksum(key, bytes), ...(head ? { head } : {}) });
  });
  return { verdict: parts.every((p) => p.ok) ? 'ok' : 'damaged', parts, meta: headsOk ? r.m : undefined };
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** A state value that fails its checksum or has the wrong shape. */
export const DAMAGED = Symbol('damaged');

/** State values ('seq', 'gseq', 'dut', 'gbase') carry a checksum too. */
export function sealState(key: string, v: unknown): { v: unknown; c: number } {
  return { v, c: checksum(Buffer.from(key, 'utf8'), JSON.stringify(v)) };
}

const DECIMAL = /^\d{1,20}$/;

/** A state value: undefined when absent, DAMAGED when unreadable. Values written before checksums are taken as they are. */
export function readState(db: { get(key: string): unknown }, key: string): unknown {
  let raw: unknown;
  try {
    raw = db.get(key);
  } catch {
    return DAMAGED;
  }
  if (raw === undefined) return undefined;
  let v: unknown = raw;
  if (isObj(raw) && 'c' in raw && 'v' in raw) {
    if (raw.c !== safe(() => checksum(Buffer.from(key, 'utf8'), JSON.stringify(raw.v)))) return DAMAGED;
    v = raw.v;
  }
  if (key.startsWith('dut\0')) {
    const d = v as { d?: unknown; a?: unknown };
    return isObj(d) && typeof d.d === 'string' && DECIMAL.test(d.d) && Array.isArray(d.a) && d.a.every((x) => typeof x === 'string' && DECIMAL.test(x)) ? v : DAMAGED;
  }
  return typeof v === 'string' && DECIMAL.test(v) ? v : DAMAGED;
}

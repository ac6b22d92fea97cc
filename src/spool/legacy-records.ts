/**
 * Records written before the binary layout (record-layout.ts): msgpack
 * objects (lmdb's default encoding, no shared structures, so each record
 * decodes on its own), with or without checksums. They are still read,
 * checked and delivered after an upgrade; nothing writes them any more.
 *   out     { s, m, c: crc(s), h: crc(meta as JSON text) }
 *   groups  { ids: decimal strings, s, p, c: crc(s), h: crc(JSON [ids, p]) }
 *   in      { s, m?, l: part lengths, c: [crc per part], hs: part heads, h: crc(JSON [l, hs, m]) }
 * Every checksum is seeded with the record's key. A record without `c` was
 * written before checksums existed and is read as it is ("unchecked").
 */
import { Unpackr } from 'msgpackr';
import { asBuffer, attempt, checksum, type OutboundMeta, type Priority, type StanzaHead, type Verdict } from './record-types.ts';

/** As lmdb decoded them (copies, so nothing points into lmdb's reused read buffer). */
const unpackr = new Unpackr({ copyBuffers: true });

/** The object a legacy record holds, or undefined when its bytes do not decode. */
export function decodeLegacy(raw: Uint8Array): unknown {
  try {
    return unpackr.unpack(raw);
  } catch {
    return undefined;
  }
}

const hex = (u?: Uint8Array) => (u ? Buffer.from(u).toString('hex') : null);

export function metaText(m: OutboundMeta): string {
  return JSON.stringify([m.priority, m.from ?? null, m.to ?? null, m.acceptedAt, m.kind ?? null, m.sid ?? null, m.type ?? null, hex(m.extra)]);
}

export function headsText(l: number[], hs: Array<StanzaHead | null>, m?: Uint8Array): string {
  return JSON.stringify([l, hs.map((h) => (h ? [h.kind, h.id ?? null, h.from ?? null, h.to ?? null, h.type ?? null] : null)), hex(m)]);
}

const isBuf = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function legacyOut(key: Buffer, rec: unknown): { stanza: Verdict; bytes?: Buffer; meta?: OutboundMeta } {
  if (!isObj(rec) || !isBuf(rec.s) || !isObj(rec.m)) return { stanza: 'damaged' };
  const r = rec as { s: Uint8Array; m: OutboundMeta; c?: number; h?: number };
  const bytes = asBuffer(r.s);
  if (r.c === undefined) return { stanza: 'unchecked', bytes, meta: r.m };
  const metaOk = attempt(() => r.h === checksum(key, metaText(r.m)), false);
  return { stanza: r.c === checksum(key, r.s) ? 'ok' : 'damaged', bytes, meta: metaOk ? r.m : undefined };
}

export function legacyGroup(key: Buffer, rec: unknown): { bytes: Verdict; stanza?: Buffer; ids?: bigint[]; priority?: Priority } {
  if (!isObj(rec) || !isBuf(rec.s) || !Array.isArray(rec.ids)) return { bytes: 'damaged' };
  const r = rec as { ids: string[]; s: Uint8Array; p: Priority; c?: number; h?: number };
  const stanza = asBuffer(r.s);
  const ids = attempt((): bigint[] | undefined => r.ids.map((i) => BigInt(i)), undefined);
  if (r.c === undefined) return ids ? { bytes: 'unchecked', stanza, ids, priority: r.p } : { bytes: 'damaged' };
  const idsOk = ids !== undefined && (r.p === 'high' || r.p === 'low') && r.h === checksum(key, JSON.stringify([r.ids, r.p]));
  return { bytes: r.c === checksum(key, r.s) ? 'ok' : 'damaged', stanza, ids: idsOk ? ids : undefined, priority: idsOk ? r.p : undefined };
}

export interface LegacyIn { verdict: Verdict; parts: Array<{ bytes: Buffer; ok: boolean; head?: StanzaHead }>; meta?: Uint8Array }

export function legacyIn(key: Buffer, rec: unknown): LegacyIn {
  if (!isObj(rec) || !isBuf(rec.s)) return { verdict: 'damaged', parts: [] };
  const r = rec as { s: Uint8Array; m?: Uint8Array; l?: number[]; c?: number[]; hs?: Array<StanzaHead | null>; h?: number };
  const s = asBuffer(r.s);
  if (r.c === undefined) return { verdict: 'unchecked', parts: [{ bytes: s, ok: true }], meta: r.m };
  const shaped = Array.isArray(r.l) && Array.isArray(r.c) && Array.isArray(r.hs) && r.l.length === r.c.length && r.hs.length === r.l.length;
  const lengthsOk = shaped && r.l!.every((n) => Number.isInteger(n) && n >= 0) && r.l!.reduce((a, n) => a + n, 0) === s.length;
  const headsOk = lengthsOk && attempt(() => r.h === checksum(key, headsText(r.l!, r.hs!, r.m)), false);
  if (!lengthsOk) return { verdict: 'damaged', parts: [{ bytes: s, ok: false }] };
  const parts: LegacyIn['parts'] = [];
  let at = 0;
  r.l!.forEach((n, i) => {
    const bytes = s.subarray(at, at + n);
    at += n;
    const head = headsOk ? (r.hs![i] ?? undefined) : undefined;
    parts.push({ bytes, ok: r.c![i] === checksum(key, bytes), ...(head ? { head } : {}) });
  });
  return { verdict: parts.every((p) => p.ok) ? 'ok' : 'damaged', parts, meta: headsOk ? r.m : undefined };
}

/**
 * Spool records: keys, and the checks a record passes when read back.
 *
 * Keys (binary, ordered):  utf8(link) 0x00 u64be(id)
 * Values: one binary record each, in the layout of record-layout.ts (first
 * byte 0xc1, then the layout version); a record written by an older version
 * is a msgpack object and is read through legacy-records.ts. Every record's
 * checksums are seeded with its key, so a record that moved to another key
 * fails too. Content and addressing have separate checksums, so a record
 * whose bytes are damaged can still be bounced to a sender whose address is intact.
 */
import { SpoolError } from './errors.ts';
import { decodeGroup, decodeIn, decodeOut, encodeGroup, encodeIn, encodeOut, isLayout } from './record-layout.ts';
import { decodeLegacy, legacyGroup, legacyIn, legacyOut } from './legacy-records.ts';
import { asBuffer, attempt, type OutboundMeta, type Priority, type StanzaHead, type Verdict } from './record-types.ts';

export { checksum, type OutboundMeta, type Priority, type StanzaHead, type Verdict } from './record-types.ts';

/** Inbound metadata is opaque to the spool (whatever the link core passed along). */
export type InboundMeta = Uint8Array | undefined;

/** One stanza of a multi-stanza inbound message, as the caller split it. */
export interface PartInfo { length: number; head?: StanzaHead }

const U64_MAX = (1n << 64n) - 1n;

/** utf8(link) 0x00 per link name, so a key costs one allocation (link names are few: the configured links). */
const prefixes = new Map<string, Buffer>();
let lastLink = '';
let lastPrefix: Buffer = Buffer.alloc(1);

function prefixOf(link: string): Buffer {
  if (link === lastLink) return lastPrefix;
  let p = prefixes.get(link);
  if (!p) {
    if (prefixes.size >= 1024) prefixes.clear();
    const name = Buffer.from(link, 'utf8');
    p = Buffer.alloc(name.length + 1);
    name.copy(p, 0);
    prefixes.set(link, p);
  }
  lastLink = link;
  lastPrefix = p;
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

/** The stanza head kept with an outbound record's meta. */
export function headOfMeta(m: OutboundMeta | undefined): StanzaHead | undefined {
  if (!m?.kind) return undefined;
  return { kind: m.kind, id: m.sid, from: m.from, to: m.to, type: m.type };
}

/** An outbound record (the stanza is copied into it). */
export function sealOut(key: Buffer, s: Uint8Array, m: OutboundMeta): Buffer {
  return encodeOut(key, s, m);
}

/** A link-message record: the spooled stanzas it carries and its exact bytes. */
export function sealGroup(key: Buffer, ids: readonly bigint[], s: Uint8Array, p: Priority): Buffer {
  return encodeGroup(key, ids, s, p);
}

/** An inbound record: `parts` splits `s` (their lengths must add up to it); none = one part. */
export function sealIn(key: Buffer, s: Buffer, m: Uint8Array | undefined, parts?: PartInfo[]): Buffer {
  let total = 0;
  if (parts) for (const p of parts) total += p.length;
  const split = parts && parts.length > 0 && total === s.length ? parts : [{ length: s.length }];
  return encodeIn(key, s, m, split.map((p) => ({ length: p.length, head: p.head ?? null })));
}

/** `bytes`: the stored stanza, whenever the record has one (damaged or not). */
export interface OutCheck { stanza: Verdict; bytes?: Buffer; meta?: OutboundMeta }

/** Checks an outbound record as stored (undefined: unreadable); `meta` is given only when it is intact (or unchecked). */
export function verifyOut(key: Buffer, raw: Uint8Array | undefined): OutCheck {
  if (raw === undefined) return { stanza: 'damaged' };
  if (!isLayout(raw)) return legacyOut(key, decodeLegacy(raw));
  return attempt((): OutCheck => {
    const d = decodeOut(key, asBuffer(raw));
    return { stanza: d.stanzaOk ? 'ok' : 'damaged', ...(d.stanza ? { bytes: d.stanza } : {}), ...(d.meta ? { meta: d.meta } : {}) };
  }, { stanza: 'damaged' });
}

export interface GroupCheck { bytes: Verdict; stanza?: Buffer; ids?: bigint[]; priority?: Priority }

/** Checks a link-message record; `ids` and `priority` are given only when intact (or unchecked). */
export function verifyGroup(key: Buffer, raw: Uint8Array | undefined): GroupCheck {
  if (raw === undefined) return { bytes: 'damaged' };
  if (!isLayout(raw)) return legacyGroup(key, decodeLegacy(raw));
  return attempt((): GroupCheck => {
    const d = decodeGroup(key, asBuffer(raw));
    return { bytes: d.bytesOk ? 'ok' : 'damaged', ...(d.stanza ? { stanza: d.stanza } : {}), ...(d.ids ? { ids: d.ids, priority: d.priority } : {}) };
  }, { bytes: 'damaged' });
}

export interface InPart { bytes: Buffer; ok: boolean; head?: StanzaHead }
export interface InCheck { verdict: Verdict; parts: InPart[]; meta?: Uint8Array }

/** Checks an inbound record part by part; heads are given only when intact. */
export function verifyIn(key: Buffer, raw: Uint8Array | undefined): InCheck {
  if (raw === undefined) return { verdict: 'damaged', parts: [] };
  if (!isLayout(raw)) return legacyIn(key, decodeLegacy(raw));
  return attempt((): InCheck => {
    const d = decodeIn(key, asBuffer(raw));
    if (!d) return { verdict: 'damaged', parts: [] };
    return { verdict: d.parts.every((p) => p.ok) ? 'ok' : 'damaged', parts: d.parts, ...(d.meta ? { meta: d.meta } : {}) };
  }, { verdict: 'damaged', parts: [] });
}

export { DAMAGED, readState, sealState, type InStateValue } from './state-records.ts';

/** An inbound record's meta when intact, without checking its stanzas (a record being rewritten keeps it). */
export function inMetaOf(key: Buffer, raw: Uint8Array | undefined): Uint8Array | undefined {
  if (raw === undefined || !isLayout(raw)) return verifyIn(key, raw).meta;
  return attempt(() => decodeIn(key, asBuffer(raw), false)?.meta, undefined);
}

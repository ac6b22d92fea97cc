/**
 * Link messages as stanzas: parsing a message (one stanza or several packed
 * back to back), its priority class, and the per-stanza parts and heads the
 * spool keeps beside the bytes (checksum and bounce address per stanza).
 */
import type { PartInfo, StanzaHead } from '../../spool/index.ts';
import { StreamParser, readFragments } from '../../xml/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import { NS } from '../../xmpp/ns.ts';

/** Presence is the low class; messages and iq go first. */
export function priorityOf(el: XmlElement): 'high' | 'low' {
  return el.local === 'presence' ? 'low' : 'high';
}

/** Parses one stanza's bytes (as the core delivers them) into an element. */
export function parseStanza(bytes: Buffer, maxStanzaBytes: number): XmlElement {
  const all = parseStanzas(bytes, maxStanzaBytes);
  if (all.length === 0) throw new Error('no complete stanza in a delivered message');
  return all[0];
}

/**
 * Parses a link message: one stanza, or several written one after the other
 * (the sender packs queued stanzas into one message, so one deflate flush
 * covers them all). Throws if any part is not a complete stanza.
 */
export function parseStanzas(bytes: Buffer, maxStanzaBytes: number): XmlElement[] {
  // The common case in one pass; anything else (and every error) through a StreamParser.
  const fast = readFragments(bytes, NS.SERVER, { maxStanzaBytes, maxHeaderBytes: 16384, maxDepth: 64, maxAttributes: 64 });
  if (fast) return fast;
  const got: XmlElement[] = [];
  let error: Error | undefined;
  const p = new StreamParser(
    { stanza: (el) => got.push(el), error: (err) => (error ??= err) },
    { implicitStream: { defaultNs: NS.SERVER }, maxStanzaBytes },
  );
  p.write(bytes);
  if (error) throw error;
  if (got.length === 0) throw new Error('no complete stanza in a delivered message');
  if (p.bytesInStanza > 0) throw new Error('a delivered message ends inside a stanza');
  return got;
}

/** What a bounce needs of a stanza, kept beside its bytes in the spool. */
export function headOf(el: XmlElement): StanzaHead {
  const h: StanzaHead = { kind: el.local };
  for (const k of ['id', 'from', 'to', 'type'] as const) {
    const v = el.attr(k);
    if (v !== undefined) h[k] = v;
  }
  return h;
}

/** The stanzas of a link message as spool parts, when their bytes make up the message exactly; else one part. */
export function partsOf(bytes: Buffer, els: XmlElement[]): PartInfo[] | undefined {
  let at = 0;
  for (const el of els) {
    const r = el.raw;
    if (!r || at + r.length > bytes.length || !sameBytes(bytes, at, r)) return undefined;
    at += r.length;
  }
  if (at !== bytes.length) return undefined;
  return els.map((el) => ({ length: el.raw!.length, head: headOf(el) }));
}

/** bytes[at, at + r.length) holds r: the same memory (a stanza cut from the message), or the same bytes. */
function sameBytes(bytes: Buffer, at: number, r: Buffer): boolean {
  if (r.buffer === bytes.buffer && r.byteOffset === bytes.byteOffset + at) return true;
  return bytes.compare(r, 0, r.length, at, at + r.length) === 0;
}


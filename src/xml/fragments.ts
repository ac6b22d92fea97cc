/**
 * Whole stanzas written back to back in one buffer (the content of an
 * XEP-0361 implicit stream, e.g. one link message), read in one pass by the
 * fast path (fast.ts) without a StreamParser: no saxes set up per buffer,
 * `raw` a view of the buffer, children built on first use. Anything the fast
 * path leaves to saxes (or a limit, or bad UTF-8) gives undefined, and the
 * caller reads the buffer with a StreamParser, which gives the same stanzas or
 * the stream error.
 */
import { isUtf8 } from 'node:buffer';
import type { XmlElement } from './element.ts';
import { deferChildren, fastStanza, isWs, type FastLimits } from './fast.ts';

export interface FragmentLimits extends FastLimits {
  /** Bytes per stanza, from its '<' to its final '>'. */
  maxStanzaBytes: number;
  /** Bytes of each run between stanzas. */
  maxHeaderBytes: number;
}

/** The stanzas of `bytes`, each in default namespace `ns`; undefined: read it with a StreamParser instead. */
export function readFragments(bytes: Buffer, ns: string, lim: FragmentLimits): XmlElement[] | undefined {
  if (!isUtf8(bytes)) return undefined;
  const s = bytes.toString('utf8');
  const ascii = s.length === bytes.length;
  const out: XmlElement[] = [];
  let c = 0; // chars and bytes read
  let b = 0;
  for (;;) {
    let k = c;
    while (k < s.length && isWs(s.charCodeAt(k))) k++;
    const kb = ascii ? k : b + Buffer.byteLength(s.slice(c, k));
    if (kb - b + 1 > lim.maxHeaderBytes) return undefined;
    if (k === s.length) return out.length > 0 ? out : undefined;
    if (s.charCodeAt(k) !== 0x3c) return undefined;
    const r = fastStanza(s, k, ns, lim, true);
    if (typeof r === 'string') return undefined;
    const eb = ascii ? r.end : kb + Buffer.byteLength(s.slice(k, r.end));
    if (eb - kb > lim.maxStanzaBytes) return undefined;
    const el = r.el;
    el.raw = bytes.subarray(kb, eb);
    if (s.charCodeAt(r.end - 2) !== 0x2f) deferChildren(el, el.raw, ns);
    out.push(el);
    c = r.end;
    b = eb;
  }
}

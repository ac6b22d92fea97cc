/**
 * Fast path of the stream parser: reads one top-level stanza of the common
 * shape straight from the decoded text, without saxes. The common shape:
 * unprefixed element names of ASCII name characters; attributes unprefixed,
 * `xmlns` or `xml:lang`; the five predefined entities and character
 * references; no CR (line-end normalization), no TAB/LF in attribute values
 * (attribute-value normalization), no comments, PIs, CDATA or DOCTYPE.
 *
 * It answers 'bail' at anything outside that shape or not well-formed, and
 * 'incomplete' when the text ends inside a stanza that is well-formed so far;
 * the caller then hands the same bytes to the full (saxes) path, which gives
 * the tree or the stream error (RFC 6120 §4.9.3) as it always did. So the fast
 * path never decides an error itself, and what it accepts saxes accepts with
 * the same tree (test/xml/fast.test.ts checks both on generated input).
 */
import { XmlElement, type ChildSource, type XmlNode } from './element.ts';

export const XML_NS = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export interface FastLimits {
  /** nesting inside the stanza, the stanza being 1 */
  maxDepth: number;
  /** attributes per element, declarations included */
  maxAttributes: number;
}

export type FastResult = { el: XmlElement; end: number } | 'incomplete' | 'bail';

const BAIL = 'bail' as const;
const MORE = 'incomplete' as const;
const LT = 0x3c;
const GT = 0x3e;
const AMP = 0x26;
const SLASH = 0x2f;
const EQ = 0x3d;

export const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
const isNameStart = (c: number): boolean => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
const isName = (c: number): boolean => isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;

/** XML 1.0 Char (§2.2) for a code point given by a character reference. */
const isXmlChar = (c: number): boolean =>
  c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);

/** Runs of characters decode() takes as they are (the quotes end an attribute value's run early, which is harmless). */
const PLAIN_TEXT = /[^\x00-\x1f&<\]\ufffe\uffff]*/y;
const PLAIN_ATTR = /[^\x00-\x1f&<"'\ufffe\uffff]*/y;

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** End of the ASCII name starting at i (i itself when none); -1 when the text ends in it. */
function nameEnd(s: string, i: number): number {
  if (i >= s.length) return -1;
  if (!isNameStart(s.charCodeAt(i))) return i;
  let k = i + 1;
  while (k < s.length && isName(s.charCodeAt(k))) k++;
  return k === s.length ? -1 : k;
}

/**
 * Decodes s[a, b) as character data (attr false) or an attribute value (attr
 * true); undefined when it holds anything the fast path leaves to saxes.
 * With build false it only checks: '' for text it would decode.
 */
function decode(s: string, a: number, b: number, attr: boolean, build = true): string | undefined {
  // the run of characters that need no look (native scan), then one at a time
  const plain = attr ? PLAIN_ATTR : PLAIN_TEXT;
  plain.lastIndex = a;
  plain.test(s);
  if (plain.lastIndex >= b) return build ? s.slice(a, b) : '';
  let out = '';
  let from = a;
  for (let k = plain.lastIndex; k < b; k++) {
    const c = s.charCodeAt(k);
    if (c >= 0x20 && c !== AMP && c !== LT && c !== 0x5d && c < 0xfffe) continue;
    if (c === 0x0a || c === 0x09) {
      if (attr) return undefined; // normalized to a space by saxes
      continue;
    }
    if (c === 0x5d) {
      if (!attr && s.startsWith(']]>', k)) return undefined;
      continue;
    }
    if (c !== AMP) return undefined; // '<', CR, other controls, U+FFFE/U+FFFF
    const semi = s.indexOf(';', k + 1);
    if (semi < 0 || semi >= b || semi - k > 12) return undefined;
    let ch: string | undefined;
    if (s.charCodeAt(k + 1) === 0x23) {
      const hex = s.charCodeAt(k + 2) === 0x78;
      const digits = s.slice(k + (hex ? 3 : 2), semi);
      if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits)) return undefined;
      const cp = parseInt(digits, hex ? 16 : 10);
      if (!isXmlChar(cp)) return undefined;
      ch = String.fromCodePoint(cp);
    } else {
      ch = PREDEFINED[s.slice(k + 1, semi)];
      if (ch === undefined) return undefined;
    }
    if (build) out += s.slice(from, k) + ch;
    from = semi + 1;
    k = semi;
  }
  if (!build) return '';
  return from === a ? s.slice(a, b) : out + s.slice(from, b);
}

/** JIDs seen in `from` and `to`, each kept once: a relay sees the same few again and again. */
const JIDS = new Map<string, string>();
const JIDS_MAX = 4096;

/**
 * The one copy of a `from` or `to` value: later stanzas with the same JID
 * share it, so the lookups by JID along a stanza's way (its domain, its link,
 * its lane) hash it once. A copy (own), so it keeps no read alive.
 */
function jid(v: string): string {
  let c = JIDS.get(v);
  if (c === undefined) {
    c = own(v);
    if (JIDS.size >= JIDS_MAX) JIDS.clear();
    JIDS.set(c, c);
  }
  return c;
}

/** Texts longer than this (a whole read, not one stanza's bytes) are not kept alive by their slices. */
const OWN_ABOVE = 2048;

/**
 * A copy of `v` that does not keep `s` alive. A slice of 13 characters or more
 * is a view into the string it was cut from, and `s` is a whole read: 16 KB of
 * a local server's stream, or a whole link message. A stanza waiting in the
 * relay kept that string with it through every young-generation collection
 * (about 7 MB of them in a receiving relay during a lan burst).
 */
function own(v: string): string {
  return v.length < 13 ? v : (' ' + v).slice(1);
}

/** Text from i to the end holds nothing the fast path would bail at (bar an entity cut by the end). */
function tailOk(s: string, i: number, attrQuote: number): boolean {
  const amp = s.lastIndexOf('&');
  const end = amp >= i && s.indexOf(';', amp) < 0 && s.length - amp <= 12 ? amp : s.length;
  for (let k = i; k < end; k++) if (s.charCodeAt(k) === attrQuote) return false;
  if (end < s.length && !/^&#?[0-9a-zA-Z]*$/.test(s.slice(end))) return false;
  return decode(s, i, end, attrQuote !== 0) !== undefined;
}

/** s[a, b) and s[c, d) hold the same name. */
function sameName(s: string, a: number, b: number, c: number, d: number): boolean {
  if (b - a !== d - c) return false;
  for (let k = 0; k < b - a; k++) if (s.charCodeAt(a + k) !== s.charCodeAt(c + k)) return false;
  return true;
}

/** Names of the attributes of the element being read, for the duplicate check (reused). */
const seen: string[] = [];

/**
 * Reads the stanza whose '<' is at s[i]; `ns` is the default namespace in
 * scope (the stream's content namespace). Returns the element and the index
 * just past its final '>', or 'incomplete' / 'bail' (see above).
 *
 * lazy: the whole stanza is read and checked exactly as otherwise, but only
 * the stanza element itself is built (name, attributes, namespace); its
 * children are left for deferChildren() to build from the bytes on first
 * use. Routing reads attributes only, so most stanzas never build them.
 */
export function fastStanza(s: string, i: number, ns: string, lim: FastLimits, lazy = false): FastResult {
  const n = s.length;
  const stack: XmlElement[] = []; // elements built and open
  const open: number[] = []; // name start and end of each open element
  let top: XmlElement | undefined;
  let p = i;
  for (;;) {
    // at '<'
    if (p + 1 >= n) return MORE;
    const c1 = s.charCodeAt(p + 1);
    if (c1 === SLASH) {
      const depth = open.length;
      if (depth === 0) return BAIL;
      const e = nameEnd(s, p + 2);
      if (e < 0) return MORE;
      if (!sameName(s, p + 2, e, open[depth - 2], open[depth - 1])) return BAIL;
      let q = e;
      while (q < n && isWs(s.charCodeAt(q))) q++;
      if (q >= n) return MORE;
      if (s.charCodeAt(q) !== GT) return BAIL;
      p = q + 1;
      open.pop();
      open.pop();
      if (stack.length * 2 === depth) stack.pop();
      if (open.length === 0) return { el: top!, end: p };
    } else {
      const e = nameEnd(s, p + 1);
      if (e < 0) return MORE;
      if (e === p + 1) return BAIL; // '!', '?', or not an ASCII name
      const build = !lazy || open.length === 0;
      const parent = stack[stack.length - 1];
      let elNs = parent ? parent.ns : ns;
      const attrs: Record<string, string> | undefined = build ? {} : undefined;
      let count = 0;
      let q = e;
      let selfClosing = false;
      for (;;) {
        const ws = q;
        while (q < n && isWs(s.charCodeAt(q))) q++;
        if (q >= n) return MORE;
        const c = s.charCodeAt(q);
        if (c === GT) {
          q++;
          break;
        }
        if (c === SLASH) {
          if (q + 1 >= n) return MORE;
          if (s.charCodeAt(q + 1) !== GT) return BAIL;
          q += 2;
          selfClosing = true;
          break;
        }
        if (q === ws) return BAIL; // no whitespace before the attribute
        let ae = nameEnd(s, q);
        if (ae < 0) return MORE;
        if (ae === q) return BAIL;
        if (s.charCodeAt(ae) === 0x3a) {
          // only xml:lang among prefixed names
          if (s.slice(q, ae) !== 'xml') return BAIL;
          const le = nameEnd(s, ae + 1);
          if (le < 0) return MORE;
          if (s.slice(ae + 1, le) !== 'lang') return BAIL;
          ae = le;
        }
        const an = s.slice(q, ae);
        q = ae;
        while (q < n && isWs(s.charCodeAt(q))) q++;
        if (q >= n) return MORE;
        if (s.charCodeAt(q) !== EQ) return BAIL;
        q++;
        while (q < n && isWs(s.charCodeAt(q))) q++;
        if (q >= n) return MORE;
        const quote = s.charCodeAt(q);
        if (quote !== 0x22 && quote !== 0x27) return BAIL;
        const close = s.indexOf(quote === 0x22 ? '"' : "'", q + 1);
        if (close < 0) return tailOk(s, q + 1, quote) ? MORE : BAIL;
        const isNs = an === 'xmlns';
        const v = decode(s, q + 1, close, true, build || isNs);
        if (v === undefined) return BAIL;
        q = close + 1;
        if (an === '__proto__') return BAIL;
        for (let k = 0; k < count; k++) if (seen[k] === an) return BAIL;
        if (count >= lim.maxAttributes) return BAIL;
        seen[count++] = an;
        if (isNs) {
          if (v === XML_NS || v === XMLNS_NS) return BAIL;
          elNs = s.length > OWN_ABOVE ? own(v) : v;
        }
        if (attrs) attrs[an] = open.length === 0 && (an === 'to' || an === 'from') ? jid(v) : s.length > OWN_ABOVE ? own(v) : v;
      }
      if (open.length / 2 + 1 > lim.maxDepth) return BAIL;
      let el: XmlElement | undefined;
      if (attrs) {
        el = new XmlElement(s.slice(p + 1, e), attrs, [], elNs);
        if (parent) parent.children.push(el);
        else top = el;
      }
      if (selfClosing) {
        if (open.length === 0) return { el: el!, end: q };
      } else {
        open.push(p + 1, e);
        if (el && !lazy) stack.push(el);
      }
      p = q;
    }
    // character data up to the next tag
    const t = s.indexOf('<', p);
    if (t < 0) return tailOk(s, p, 0) ? MORE : BAIL;
    if (t > p) {
      const into = !lazy ? stack[stack.length - 1] : undefined;
      const text = decode(s, p, t, false, into !== undefined);
      if (text === undefined) return BAIL;
      into?.children.push(text);
    }
    p = t;
  }
}

/** Limits already checked when the stanza was first read. */
const CHECKED: FastLimits = { maxDepth: Infinity, maxAttributes: Infinity };

/** Builds a lazily read stanza's children, once, from its bytes (see fastStanza's lazy). */
class StanzaChildren implements ChildSource {
  constructor(
    private readonly raw: Buffer,
    private readonly ns: string,
  ) {}

  build(): XmlNode[] {
    const r = fastStanza(this.raw.toString('utf8'), 0, this.ns, CHECKED);
    if (typeof r === 'string') throw new Error(`a stanza read once does not read again (${r})`);
    return r.el.children;
  }

  /** Every element of a stanza read by the fast path is written `<name` (unprefixed). */
  mayHold(local: string): boolean {
    return this.raw.includes(`<${local}`, 1);
  }
}

/** Gives an element read with fastStanza(..., lazy) the source of its children: its bytes `raw` and the namespace `ns` it was read in. */
export function deferChildren(el: XmlElement, raw: Buffer, ns: string): void {
  el.deferChildren(new StanzaChildren(raw, ns));
}

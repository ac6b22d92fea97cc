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
import { XmlElement } from './element.ts';

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
 */
function decode(s: string, a: number, b: number, attr: boolean): string | undefined {
  let out = '';
  let from = a;
  for (let k = a; k < b; k++) {
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
    out += s.slice(from, k) + ch;
    from = semi + 1;
    k = semi;
  }
  return from === a ? s.slice(a, b) : out + s.slice(from, b);
}

/** Text from i to the end holds nothing the fast path would bail at (bar an entity cut by the end). */
function tailOk(s: string, i: number, attrQuote: number): boolean {
  const amp = s.lastIndexOf('&');
  const end = amp >= i && s.indexOf(';', amp) < 0 && s.length - amp <= 12 ? amp : s.length;
  for (let k = i; k < end; k++) if (s.charCodeAt(k) === attrQuote) return false;
  if (end < s.length && !/^&#?[0-9a-zA-Z]*$/.test(s.slice(end))) return false;
  return decode(s, i, end, attrQuote !== 0) !== undefined;
}

/**
 * Reads the stanza whose '<' is at s[i]; `ns` is the default namespace in
 * scope (the stream's content namespace). Returns the element and the index
 * just past its final '>', or 'incomplete' / 'bail' (see above).
 */
export function fastStanza(s: string, i: number, ns: string, lim: FastLimits): FastResult {
  const n = s.length;
  const stack: XmlElement[] = [];
  let p = i;
  for (;;) {
    // at '<'
    if (p + 1 >= n) return MORE;
    const c1 = s.charCodeAt(p + 1);
    if (c1 === SLASH) {
      const top = stack[stack.length - 1];
      if (!top) return BAIL;
      const e = nameEnd(s, p + 2);
      if (e < 0) return MORE;
      if (s.slice(p + 2, e) !== top.name) return BAIL;
      let q = e;
      while (q < n && isWs(s.charCodeAt(q))) q++;
      if (q >= n) return MORE;
      if (s.charCodeAt(q) !== GT) return BAIL;
      p = q + 1;
      stack.pop();
      if (stack.length === 0) return { el: top, end: p };
    } else {
      const e = nameEnd(s, p + 1);
      if (e < 0) return MORE;
      if (e === p + 1) return BAIL; // '!', '?', or not an ASCII name
      const name = s.slice(p + 1, e);
      const parent = stack[stack.length - 1];
      let elNs = parent ? parent.ns : ns;
      const attrs: Record<string, string> = {};
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
        const v = decode(s, q + 1, close, true);
        if (v === undefined) return BAIL;
        q = close + 1;
        if (an === '__proto__' || Object.prototype.hasOwnProperty.call(attrs, an)) return BAIL;
        if (++count > lim.maxAttributes) return BAIL;
        if (an === 'xmlns') {
          if (v === XML_NS || v === XMLNS_NS) return BAIL;
          elNs = v;
        }
        attrs[an] = v;
      }
      if (stack.length + 1 > lim.maxDepth) return BAIL;
      const el = new XmlElement(name, attrs, [], elNs);
      if (parent) parent.children.push(el);
      if (selfClosing) {
        if (!parent) return { el, end: q };
      } else stack.push(el);
      p = q;
    }
    // character data up to the next tag
    const t = s.indexOf('<', p);
    if (t < 0) return tailOk(s, p, 0) ? MORE : BAIL;
    if (t > p) {
      const text = decode(s, p, t, false);
      if (text === undefined) return BAIL;
      stack[stack.length - 1].children.push(text);
    }
    p = t;
  }
}

/**
 * Serialization that survives a re-parse exactly (XML 1.0 §2.11, §3.3.3):
 * besides & < > " ', CR in text and TAB/LF/CR in attribute values are written
 * as character references, otherwise line-end and attribute-value
 * normalization would change them. Unedited elements (raw set) are written as
 * their received bytes. A default namespace that differs from the one in
 * scope is declared (e.g. an element built with ns but no xmlns attribute);
 * ns '' without an xmlns attribute means "inherit" (the x() builder's default).
 */
import { XmlElement } from './element.ts';

const TEXT_ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTR_ESC: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};
export const escapeTextExact = (s: string): string => s.replace(/[&<>\r]/g, (c) => TEXT_ESC[c]);
export const escapeAttrExact = (s: string): string => s.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESC[c]);

/**
 * Serializes el for a context whose default namespace is `inheritedNs`
 * (the stream's content namespace for a stanza, e.g. jabber:server).
 */
export function serialize(el: XmlElement, inheritedNs = ''): string {
  if (el.raw) return el.raw.toString('utf8');
  let out = '<' + el.name;
  let scopeNs = inheritedNs;
  if (el.attrs.xmlns !== undefined) scopeNs = el.attrs.xmlns;
  else if (!el.name.includes(':') && el.ns !== '' && el.ns !== inheritedNs) {
    // ns '' without xmlns: built by x() without a namespace, it inherits
    out += ` xmlns="${escapeAttrExact(el.ns)}"`;
    scopeNs = el.ns;
  }
  for (const [k, v] of Object.entries(el.attrs)) out += ` ${k}="${escapeAttrExact(v)}"`;
  if (el.children.length === 0) return out + '/>';
  out += '>';
  for (const c of el.children) out += typeof c === 'string' ? escapeTextExact(c) : serialize(c, scopeNs);
  return out + `</${el.name}>`;
}

/** Bytes to send: the received bytes when unedited, fresh XML otherwise. */
export function toWire(el: XmlElement, inheritedNs = ''): Buffer {
  return el.raw ?? Buffer.from(serialize(el, inheritedNs), 'utf8');
}

/**
 * xml/ — incremental, strict XMPP stream parsing and serialization.
 *
 * Takes: raw bytes of an XMPP stream (RFC 6120 §4) or of an XEP-0361 implicit
 * stream (no header; also the link layer's inflated bytes), in chunks of any
 * size. Gives: streamOpen(attrs), one XmlElement per top-level stanza (with
 * `raw`, its exact bytes), streamClose(), or a single StreamError (RFC 6120
 * §4.9.3: not-well-formed, restricted-xml, invalid-namespace,
 * bad-namespace-prefix, policy-violation, unsupported-encoding, bad-format).
 *
 * raw: the received bytes of the stanza, byte for byte, EXCEPT when the stanza
 * depends on its stream header: prefixes bound only on the header (e.g. db:)
 * are declared, and the stream's xml:lang is added when the stanza has none
 * (RFC 6120 §4.7.4), by splicing ` xmlns:p="…"` / ` xml:lang="…"` right after
 * the element name; the same attributes are added to `attrs`. raw is thus
 * always self-contained and equals what re-serializing the tree gives. The
 * stream's default namespace is NOT added: el.ns carries it, and a stanza is
 * forwarded into a stream with the same content namespace (jabber:server).
 *
 * Fast path (fast.ts): stanzas of the common shape (unprefixed names, plain,
 * xmlns and xml:lang attributes, predefined entities) are read without saxes,
 * to the same tree and raw bytes; anything else goes to saxes, which decides
 * every stream error. StreamParserOptions.fastPath: false turns it off. The
 * fast path builds a stanza's children from raw on first use (routing reads
 * attributes only). readFragments (fragments.ts): stanzas back to back in one
 * buffer, read in one pass when the fast path can; undefined otherwise.
 *
 * Other choices: whitespace between stanzas is ignored, other character data
 * there is bad-format; input after </stream:stream> is ignored; the first error
 * ends the stream (later writes ignored) until reset(). reset() called from a
 * handler during write() hands the rest of that chunk (after the event) to the
 * fresh stream. Limits: maxStanzaBytes per stanza from its '<' to its final
 * '>'; maxHeaderBytes for the header and for each run of bytes between stanzas
 * (so keepalives over a long stream never add up). Each limit trips at the same
 * byte however the input is chunked.
 *
 * Serialization: element.ts serializeElement for plain output; serialize.ts
 * `serialize(el, inheritedNs)` when an edited stanza must re-parse to the same
 * tree (TAB/LF/CR escaped in attributes, CR in text; xmlns added for an element
 * whose ns differs from its scope).
 *
 * Stream errors (stream-error.ts, RFC 6120 §4.9) and the stream namespaces
 * (ns.ts) live here because the parser raises and checks them; xmpp/
 * re-exports them.
 *
 * Must not import: xmpp/ (it imports xml/), s2s/, link/, optimize/, policy/,
 * relay/, spool/, config/, or anything doing I/O; only a Metrics type from obs/.
 */
export { StreamParser, parseXml } from './parser.ts';
export { readFragments, type FragmentLimits } from './fragments.ts';
export type { StreamParserOptions, StreamHandlers } from './parser.ts';
export { serialize, toWire, escapeTextExact, escapeAttrExact } from './serialize.ts';
export { XmlElement, x, serializeElement, escapeText, escapeAttr } from './element.ts';
export type { XmlNode } from './element.ts';
export { StreamError, type StreamErrorCondition } from './stream-error.ts';
export { STREAM_NS } from './ns.ts';

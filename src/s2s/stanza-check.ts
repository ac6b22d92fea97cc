/**
 * The checks a stanza from a local server passes before it is handed over,
 * on an inbound stream and on the reverse direction of a bidi outbound one
 * (RFC 6120 §8.1, §4.9.3; XEP-0220 §2.4 and XEP-0288 §3 for which pairs a
 * stream carries). The first failure is the stream error to close with.
 */
import type { XmlElement } from '../xml/element.ts';
import { StreamError } from '../xmpp/errors.ts';
import { NS } from '../xmpp/ns.ts';
import { domainOf } from '../xmpp/jid.ts';

const STANZAS = new Set(['message', 'presence', 'iq']);

/** What the stream has authenticated, as the checks ask it. */
export interface StanzaAuth {
  /** The stream is authenticated (for some pair). */
  authenticated(): boolean;
  /** `from` (a local domain) authenticated on this stream. */
  hasFrom(from: string): boolean;
  /** `from` may send to `to` on this stream. */
  mayReach(from: string, to: string): boolean;
  /** The relay serves `to`. */
  isServed(to: string): boolean;
}

/** A top-level element of the jabber:server namespace that is a stanza. */
export const isStanza = (el: XmlElement): boolean => el.ns === NS.SERVER && STANZAS.has(el.local);

/** The stanza's from/to domains, or the stream error that refuses it. */
export function checkStanza(el: XmlElement, auth: StanzaAuth): { from: string; to: string } | StreamError {
  if (!auth.authenticated()) return new StreamError('not-authorized', 'stanza before authentication');
  if (!isStanza(el)) return new StreamError('unsupported-stanza-type', `${el.name} in ${el.ns}`);
  const fromAttr = el.attr('from');
  const toAttr = el.attr('to');
  if (!fromAttr || !toAttr) return new StreamError('improper-addressing', 'stanza without from/to');
  const from = domainOf(fromAttr);
  const to = domainOf(toAttr);
  if (!from || !auth.hasFrom(from)) return new StreamError('invalid-from', `${fromAttr} not authenticated on this stream`);
  if (!to || !auth.isServed(to)) return new StreamError('host-unknown', `not serving ${toAttr}`);
  if (!auth.mayReach(from, to)) return new StreamError('invalid-from', `${from} not authenticated for ${to}`);
  return { from, to };
}

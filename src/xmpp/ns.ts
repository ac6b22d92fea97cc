import { STREAM_NS } from '../xml/ns.ts';

/** Namespaces used across the relay (RFC 6120, XEPs named beside each); the stream's own come from xml/ns.ts. */
export const NS = {
  ...STREAM_NS,
  SERVER: 'jabber:server',
  CLIENT: 'jabber:client',
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  STANZAS_ERR: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  DIALBACK: 'jabber:server:dialback', // XEP-0220
  DIALBACK_FEATURE: 'urn:xmpp:features:dialback',
  BIDI: 'urn:xmpp:bidi', // XEP-0288
  BIDI_FEATURE: 'urn:xmpp:features:bidi',
  SM: 'urn:xmpp:sm:3', // XEP-0198
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  CAPS: 'http://jabber.org/protocol/caps', // XEP-0115
  CHATSTATES: 'http://jabber.org/protocol/chatstates', // XEP-0085
  XHTML_IM: 'http://jabber.org/protocol/xhtml-im', // XEP-0071
} as const;

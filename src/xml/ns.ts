/** The namespaces the stream layer itself needs (RFC 6120 §4.8, §4.9.3; XML 1.0 for xml:lang); xmpp/ns.ts adds the rest. */
export const STREAM_NS = {
  STREAM: 'http://etherx.jabber.org/streams',
  STREAMS_ERR: 'urn:ietf:params:xml:ns:xmpp-streams',
  XML: 'http://www.w3.org/XML/1998/namespace',
} as const;

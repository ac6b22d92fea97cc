/**
 * xmpp/ — XMPP vocabulary shared by every part: namespaces, JIDs (RFC 7622,
 * domain handling only), stream and stanza errors with their condition
 * elements (RFC 6120 §4.9, §8.3) and bounce(). Imports only xml/element.ts.
 */
export { NS } from './ns.ts';
export { parseJid, domainOf, bareJid, domainMatches, type Jid } from './jid.ts';
export { StreamError, StanzaError, bounce, canBounce, type StreamErrorCondition, type StanzaErrorCondition, type StanzaErrorType } from './errors.ts';

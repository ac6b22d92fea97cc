/**
 * xmpp/ — XMPP vocabulary shared by every part: namespaces, JIDs (RFC 7622,
 * domain handling only), stanza errors with their condition elements (RFC
 * 6120 §8.3) and bounce(), stream errors (re-exported from xml/, where the
 * parser raises them), and the stanza hook contract (hooks.ts) that policy/
 * and optimize/ implement and relay/'s router runs.
 * Takes: XmlElement stanzas. Gives: types, constants and pure functions.
 * Must not import: anything but xml/ (no obs/, no I/O).
 */
export { NS } from './ns.ts';
export { parseJid, domainOf, bareJid, domainMatches, type Jid } from './jid.ts';
export { StreamError, StanzaError, bounce, canBounce, type StreamErrorCondition, type StanzaErrorCondition, type StanzaErrorType } from './errors.ts';
export type { StanzaHook, HookContext, OutboundVerdict } from './hooks.ts';

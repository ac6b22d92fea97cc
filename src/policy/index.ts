/**
 * Boundary policy: allowed and blocked domains, blocked namespaces, and
 * payloads dropped on purpose (chat states, XHTML-IM). A router hook; every
 * refusal or drop is counted and written as an audit log line.
 * Takes stanzas (XmlElement) and a hook context (xmpp/hooks.ts: the link by
 * name); gives them back edited, refused (StanzaError) or consumed.
 * Must not import: relay/, link/, s2s/, optimize/, spool/, config/ (the
 * relay builds the settings and wires the hooks).
 */
export { PolicyHook, type PolicySettings, type DropClass } from './policy.ts';
export { urgentMatcher, SHIM_NS, type UrgentRules } from './urgent.ts';

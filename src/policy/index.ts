/**
 * Boundary policy: allowed and blocked domains, blocked namespaces, and
 * payloads dropped on purpose (chat states, XHTML-IM). A router hook; every
 * refusal or drop is counted and written as an audit log line.
 * Takes stanzas (XmlElement); gives them back edited, refused or consumed.
 * Must not import s2s/ or link/.
 */
export { PolicyHook, type PolicySettings, type DropClass } from './policy.ts';

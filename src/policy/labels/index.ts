/**
 * policy/labels — XEP-0258 security labels at the boundary.
 *
 * Does: reads <securitylabel/> (ESS labels per RFC 2634, DER via node-forge's
 * asn1, and the XML label form XEP-0258 §1 shows); decides each against the
 * clearance of the side a stanza goes to (policies, highest classification,
 * required/allowed categories, unlabeled: pass | refuse | default label);
 * rewrites labels through a link's equivalence table; answers catalog
 * requests (XEP-0258 §4) for remote domains from the link's clearance.
 * Takes: stanzas (router hook), LabelSettings. Gives: stanzas (edited),
 * StanzaError (forbidden / bad-request), audit log lines, label_* counters.
 * Must not import: s2s/, link/, config/ (the relay builds its settings).
 */
export { LabelHook, labelsConfigured, type LabelSettings, type LabelLinkSettings } from './hook.ts';
export { decide, checkLabel, mapLabel, specToEss, categoryMatches, type ClearanceSettings, type EquivalenceEntry, type LabelSpec, type Decision } from './clearance.ts';
export { parseSecurityLabel, buildSecurityLabel, describeLabel, classificationName, NS_SECLABEL, NS_ESS, NS_CATALOG, type Label, type SecurityLabel } from './label.ts';
export { decodeEss, encodeEss, LabelError, isOid, MAX_CLASSIFICATION, type EssLabel, type SecurityCategory } from './ess.ts';
export { buildCatalog } from './catalog.ts';

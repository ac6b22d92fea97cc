/**
 * Which stanzas are urgent: they still cross a metered bearer whose daily
 * budget is spent (link/metered/ asks; the relay passes it this predicate).
 * A stanza is urgent when any rule matches:
 *  - from: its sender is a listed bare JID (any resource), full JID, or domain;
 *  - message_types: it is a message of a listed type (RFC 6121 §5.2.2);
 *  - shim_urgency: it carries an XEP-0131 (SHIM) header
 *    <headers xmlns='http://jabber.org/protocol/shim'><header name='Urgency'>high</header></headers>
 *    whose value is listed (the registry's Urgency header: high, medium, low).
 * Senders are local users (the relay carries what its local servers send), so
 * the operator decides whom to trust with a header rule.
 */
import type { XmlElement } from '../xml/element.ts';
import { bareJid, parseJid } from '../xmpp/jid.ts';

/** XEP-0131 §3. */
export const SHIM_NS = 'http://jabber.org/protocol/shim';

export interface UrgentRules {
  from: readonly string[];
  message_types: readonly string[];
  shim_urgency: readonly string[];
}

/** The predicate for a site's policy.urgent; matches nothing when every list is empty. */
export function urgentMatcher(rules: UrgentRules): (el: XmlElement) => boolean {
  const jids = new Set(rules.from.filter((f) => f.includes('@') || f.includes('/')).map((f) => f.toLowerCase()));
  const domains = new Set(rules.from.filter((f) => !f.includes('@') && !f.includes('/')).map((f) => f.toLowerCase()));
  const types = new Set(rules.message_types);
  const levels = new Set(rules.shim_urgency.map((u) => u.toLowerCase()));
  if (jids.size + domains.size + types.size + levels.size === 0) return () => false;
  return (el) => {
    const from = el.attr('from');
    if (from && (jids.size || domains.size)) {
      const j = parseJid(from);
      if (j && (domains.has(j.domain) || jids.has(bareJid(from).toLowerCase()) || jids.has(from.toLowerCase()))) return true;
    }
    if (types.size && el.local === 'message' && types.has(el.attr('type') ?? 'normal')) return true;
    if (levels.size) {
      for (const h of el.getChildren('headers', SHIM_NS)) {
        for (const hd of h.getChildren('header', SHIM_NS)) {
          if (hd.attr('name')?.toLowerCase() === 'urgency' && levels.has(hd.text().trim().toLowerCase())) return true;
        }
      }
    }
    return false;
  };
}

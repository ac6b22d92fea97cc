/**
 * Stanzas whose stored copy in the spool is damaged (spool/ checksums): they
 * are never delivered. A stanza whose addressing survived is bounced to its
 * sender with internal-server-error (RFC 6120 §8.3.3.8), the payload left out
 * (it cannot be trusted); one whose sender is unknown is counted and logged.
 */
import type { DamagedStanza, StanzaHead } from '../../spool/index.ts';
import { XmlElement } from '../../xml/element.ts';
import { StanzaError, bounce } from '../../xmpp/errors.ts';
import { NS } from '../../xmpp/ns.ts';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';

/** An empty stanza with the damaged one's kind and addressing, to bounce. */
function shellOf(h: StanzaHead): XmlElement {
  const attrs: Record<string, string> = {};
  for (const k of ['id', 'from', 'to', 'type'] as const) if (h[k] !== undefined) attrs[k] = h[k]!;
  return new XmlElement(h.kind, attrs, [], NS.SERVER);
}

export function damagedError(): StanzaError {
  return new StanzaError('internal-server-error', "the relay's stored copy of this stanza was damaged on disk; it was not delivered");
}

export interface DamageSinks {
  link: string;
  log: Logger;
  metrics: Metrics;
  /** A local sender (outbound spool): the router bounces it. */
  local(el: XmlElement, err: StanzaError): void;
  /** A far sender (inbound spool): the bounce goes back over the link. */
  remote(reply: XmlElement): void;
}

/** Bounces or reports each damaged stanza once. */
export function reportDamaged(list: DamagedStanza[], s: DamageSinks): void {
  for (const d of list) {
    const fields = { store: d.store, id: String(d.id), from: d.head?.from, to: d.head?.to, kind: d.head?.kind };
    const shell = d.head?.from && d.head.to ? shellOf(d.head) : undefined;
    const reply = shell && bounce(shell, damagedError());
    if (!shell || !reply) {
      s.metrics.inc('link_damaged_stanzas_total', { link: s.link, outcome: 'not_bounced' });
      s.log.error(fields, 'stanza lost to spool damage; its sender is unknown (or it was an error), so no bounce');
      continue;
    }
    s.metrics.inc('link_damaged_stanzas_total', { link: s.link, outcome: 'bounced' });
    s.log.error(fields, 'stanza lost to spool damage; bounced to its sender');
    if (d.store === 'out') s.local(shell, damagedError());
    else s.remote(reply);
  }
}

/**
 * Stanzas whose stored copy in the spool is damaged (spool/ checksums): they
 * are never delivered. A stanza whose addressing survived is bounced to its
 * sender with internal-server-error (RFC 6120 §8.3.3.8), the payload left out
 * (it cannot be trusted); one whose sender is unknown is counted and logged.
 * Of a spool set aside, a stanza already on the bearer is bounced too, saying
 * it may have arrived: a possible duplicate is better than a silent loss.
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

export function damagedError(d: Pick<DamagedStanza, 'setAside' | 'sent'> = {}): StanzaError {
  const text = !d.setAside
    ? "the relay's stored copy of this stanza was damaged on disk; it was not delivered"
    : d.sent
      ? "the relay's spool was damaged on disk and set aside after this stanza was sent; it may or may not have arrived"
      : "the relay's spool was damaged on disk and set aside; this stanza was not delivered";
  return new StanzaError('internal-server-error', text);
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
    const err = damagedError(d);
    const reply = shell && bounce(shell, err);
    if (!shell || !reply) {
      s.metrics.inc('link_damaged_stanzas_total', { link: s.link, outcome: 'not_bounced' });
      s.log.error(fields, 'stanza lost to spool damage; its sender is unknown (or it was an error), so no bounce');
      continue;
    }
    s.metrics.inc('link_damaged_stanzas_total', { link: s.link, outcome: 'bounced' });
    s.log.error({ ...fields, set_aside: d.setAside === true, maybe_delivered: d.sent === true }, 'stanza lost to spool damage; bounced to its sender');
    if (d.store === 'out') s.local(shell, err);
    else s.remote(reply);
  }
}

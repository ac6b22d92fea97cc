/**
 * Presence folding (optimize.presence: fold): an outbound available presence
 * is reduced to what presence state needs (RFC 6121 §4.7: show, status,
 * priority) plus the entity-caps <c/> (XEP-0115, peers need it to know
 * features). Dropped: vcard-update (XEP-0153), idle (XEP-0319), nick
 * (XEP-0172), signed (XEP-0027) and any other extension. Untouched:
 * unavailable, subscription types, probes and errors. MUC presence (XEP-0045)
 * keeps its muc / muc#user element and occupant-id (XEP-0421).
 */
import type { XmlElement } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { NS } from '../xmpp/ns.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { StanzaHook } from '../relay/router.ts';
import type { RelayLink } from '../link/port.ts';
import { CAPS_MARKER_NS } from './caps-strip.ts';

export const MUC_NS = 'http://jabber.org/protocol/muc';
export const MUC_USER_NS = 'http://jabber.org/protocol/muc#user';
export const OCCUPANT_ID_NS = 'urn:xmpp:occupant-id:0';

export interface PresenceFoldOptions {
  /** Keep <status/> texts (default true). */
  keepStatus?: boolean;
  metrics?: Metrics;
  logger?: Logger;
}

/** The folded presence, or the same element when nothing had to go. */
export function foldPresence(el: XmlElement, keepStatus = true): XmlElement {
  if (el.local !== 'presence' || el.attr('type') !== undefined) return el;
  const muc = el.elements().some((c) => c.local === 'x' && (c.ns === MUC_NS || c.ns === MUC_USER_NS));
  const keep = (c: XmlElement): boolean => {
    if (c.ns === el.ns && (c.local === 'show' || c.local === 'priority')) return true;
    if (c.ns === el.ns && c.local === 'status') return keepStatus;
    if (c.local === 'c' && (c.ns === NS.CAPS || c.ns === CAPS_MARKER_NS)) return true;
    if (muc && c.local === 'x' && (c.ns === MUC_NS || c.ns === MUC_USER_NS)) return true;
    if (muc && c.local === 'occupant-id' && c.ns === OCCUPANT_ID_NS) return true;
    return false;
  };
  const kept = el.elements().filter(keep);
  if (kept.length === el.children.length) return el;
  const out = el.clone();
  out.children = kept.map((c) => c.clone());
  return out.touch();
}

export class PresenceFoldHook implements StanzaHook {
  readonly name = 'presence-fold';
  private readonly keepStatus: boolean;
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(opts: PresenceFoldOptions = {}) {
    this.keepStatus = opts.keepStatus ?? true;
    this.metrics = opts.metrics ?? new Metrics();
    this.log = opts.logger ?? silentLogger;
  }

  outbound(stanza: XmlElement, link: RelayLink): XmlElement {
    const out = foldPresence(stanza, this.keepStatus);
    if (out === stanza) return stanza;
    const saved = Buffer.byteLength(serialize(stanza)) - Buffer.byteLength(serialize(out));
    this.metrics.inc('optimize_presence_folded_total', { link: link.name });
    this.metrics.inc('optimize_presence_fold_bytes_saved_total', { link: link.name }, Math.max(0, saved));
    this.log.debug({ link: link.name, from: stanza.attr('from'), saved }, 'folded presence');
    return out;
  }
}

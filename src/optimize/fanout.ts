/**
 * Fan-out folding: N copies of one stanza that differ only in `to` (a presence
 * broadcast, a MUC groupchat message sent by the room to each occupant) cross
 * the link once, with a recipient list, and are expanded on the far side.
 *
 * Wire form (satrelay extension, namespace urn:satrelay:fanout:0):
 *   <presence from='a@x/r' to='b@y'>…payload…
 *     <fanout xmlns='urn:satrelay:fanout:0'><to>c@y</to><to>d@y/r</to></fanout>
 *   </presence>
 * The stanza's own `to` is the first recipient; <fanout/> is the last child and
 * lists the others in order. Every recipient must be in the domain of the first
 * `to` (one delivery path on the far side); anything else is refused.
 */
import { XmlElement } from '../xml/element.ts';
import { StanzaError } from '../xmpp/errors.ts';
import { domainOf, parseJid } from '../xmpp/jid.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { StanzaHook } from '../relay/router.ts';
import type { RelayLink } from '../link/port.ts';

export const FANOUT_NS = 'urn:satrelay:fanout:0';
/** Recipients per folded stanza accepted on expansion (guards memory). */
export const MAX_FANOUT = 10_000;

/** One stanza standing for all copies: the first copy plus a <fanout/> list of the other recipients. */
export function foldCopies(copies: XmlElement[]): XmlElement {
  if (copies.length === 0) throw new TypeError('foldCopies: no copies');
  const out = copies[0].clone();
  if (copies.length === 1) return out;
  const list = new XmlElement('fanout', { xmlns: FANOUT_NS }, [], FANOUT_NS);
  for (const c of copies.slice(1)) {
    const to = c.attr('to');
    if (to === undefined) throw new TypeError('foldCopies: a copy has no to');
    list.children.push(new XmlElement('to', {}, [to], FANOUT_NS));
  }
  return out.append(list);
}

/** True when the stanza carries a fan-out list. */
export function hasFanout(el: XmlElement): boolean {
  return el.getChild('fanout', FANOUT_NS) !== undefined;
}

/**
 * The stanzas a folded one stands for, each with its own `to` and without the
 * <fanout/> element. A stanza without <fanout/> gives itself. Throws
 * StanzaError bad-request on a malformed list or a recipient outside the
 * domain of the first `to`.
 */
export function expandFanout(el: XmlElement): XmlElement[] {
  const lists = el.getChildren('fanout', FANOUT_NS);
  if (lists.length === 0) return [el];
  if (lists.length > 1) throw new StanzaError('bad-request', 'more than one fanout list');
  const firstTo = el.attr('to');
  const domain = domainOf(firstTo);
  if (!firstTo || !domain) throw new StanzaError('bad-request', 'fanout stanza without a valid to');
  const tos: string[] = [];
  for (const c of lists[0].children) {
    if (typeof c === 'string') {
      if (c.trim() !== '') throw new StanzaError('bad-request', 'text in fanout list');
      continue;
    }
    if (c.local !== 'to' || c.ns !== FANOUT_NS || c.elements().length > 0) throw new StanzaError('bad-request', `unexpected <${c.name}/> in fanout list`);
    const jid = parseJid(c.text());
    if (!jid) throw new StanzaError('jid-malformed', 'malformed recipient in fanout list');
    if (jid.domain !== domain) throw new StanzaError('bad-request', `fanout recipient ${jid.domain} is outside ${domain}`);
    tos.push(c.text());
  }
  if (tos.length === 0) throw new StanzaError('bad-request', 'empty fanout list');
  if (tos.length + 1 > MAX_FANOUT) throw new StanzaError('bad-request', `more than ${MAX_FANOUT} fanout recipients`);
  const base = el.clone();
  base.children = base.children.filter((c) => !(typeof c !== 'string' && c.local === 'fanout' && c.ns === FANOUT_NS));
  base.touch();
  const out = [base];
  for (const to of tos) out.push(base.clone().setAttr('to', to));
  return out;
}

/** Inbound hook: expands a folded stanza from the partner into its copies (refusals bounce to the sender). */
export class FanoutExpandHook implements StanzaHook {
  readonly name = 'fanout-expand';
  private readonly metrics: Metrics;
  private readonly log: Logger;

  constructor(opts: { metrics?: Metrics; logger?: Logger } = {}) {
    this.metrics = opts.metrics ?? new Metrics();
    this.log = opts.logger ?? silentLogger;
  }

  inbound(stanza: XmlElement, link: RelayLink): XmlElement[] | StanzaError {
    if (!hasFanout(stanza)) return [stanza];
    const kind = stanza.local === 'message' ? 'groupchat' : stanza.local;
    try {
      const out = expandFanout(stanza);
      this.metrics.inc('optimize_expands_total', { kind, link: link.name });
      this.metrics.inc('optimize_expanded_stanzas_total', { kind, link: link.name }, out.length);
      return out;
    } catch (err) {
      if (!(err instanceof StanzaError)) throw err;
      this.metrics.inc('optimize_expand_refused_total', { kind, link: link.name, condition: err.condition });
      this.log.warn({ link: link.name, from: stanza.attr('from'), condition: err.condition, text: err.text }, 'refused a fanout stanza');
      return err;
    }
  }
}

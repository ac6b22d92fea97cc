/**
 * The label filter, a router hook: every <securitylabel/> (XEP-0258) in a
 * stanza is read, mapped through the link's equivalence table and checked
 * against the clearance of the side the stanza goes to (the link's on the way
 * out, local.clearance on the way in). Refusals become stanza errors for the
 * sender (forbidden for a label above the clearance, bad-request for one that
 * cannot be read, RFC 6120 §8.3.3), each with one audit line and a count.
 * Catalog requests (XEP-0258 §4) for a remote domain are answered here from
 * the link's clearance and never cross.
 */
import { x, type XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { HookContext, StanzaHook } from '../../relay/router.ts';
import type { RelayLink } from '../../link/port.ts';
import { buildCatalog, markingFor } from './catalog.ts';
import { decide, mapLabel, specToEss, type ClearanceSettings, type EquivalenceEntry } from './clearance.ts';
import { LabelError } from './ess.ts';
import { buildSecurityLabel, describeLabel, NS_CATALOG, NS_SECLABEL, parseSecurityLabel, type SecurityLabel } from './label.ts';

export interface LabelLinkSettings {
  /** what may cross to this link; null: labels are not checked on the way out */
  clearance: ClearanceSettings | null;
  equivalence: EquivalenceEntry[];
}

export interface LabelSettings {
  links: Record<string, LabelLinkSettings>;
  /** what may be delivered to the local servers; null: not checked on the way in */
  local: ClearanceSettings | null;
}

type Direction = 'to_link' | 'from_link';

/** True when any link or the local side has a clearance or an equivalence table. */
export function labelsConfigured(s: LabelSettings): boolean {
  return s.local !== null || Object.values(s.links).some((l) => l.clearance !== null || l.equivalence.length > 0);
}

/** Every <securitylabel/> in the stanza with its parent, depth first. */
function findLabels(el: XmlElement, out: Array<{ parent: XmlElement; el: XmlElement }> = []): Array<{ parent: XmlElement; el: XmlElement }> {
  for (const c of el.elements()) {
    if (c.local === 'securitylabel' && c.ns === NS_SECLABEL) out.push({ parent: el, el: c });
    else findLabels(c, out);
  }
  return out;
}

class Refusal {
  constructor(readonly rule: string, readonly err: StanzaError, readonly label: string) {}
}

export class LabelHook implements StanzaHook {
  readonly name = 'labels';
  private readonly log: Logger;
  private readonly metrics: Metrics;

  constructor(private readonly settings: LabelSettings, opts: { logger?: Logger; metrics?: Metrics } = {}) {
    this.log = (opts.logger ?? silentLogger).child({ audit: true });
    this.metrics = opts.metrics ?? new Metrics();
  }

  outbound(stanza: XmlElement, link: RelayLink, ctx: HookContext): XmlElement | 'consumed' | StanzaError {
    const ls = this.settings.links[link.name];
    if (ls?.clearance && this.catalog(stanza, link, ls.clearance, ctx)) return 'consumed';
    return this.apply(stanza, link, 'to_link', ls?.clearance ?? null, ls?.equivalence ?? []);
  }

  inbound(stanza: XmlElement, link: RelayLink): XmlElement[] | StanzaError {
    const r = this.apply(stanza, link, 'from_link', this.settings.local, this.settings.links[link.name]?.equivalence ?? []);
    return r instanceof StanzaError ? r : [r];
  }

  /** XEP-0258 §4: <iq type='get'><catalog to='remote'/></iq> addressed to a domain on this link. */
  private catalog(stanza: XmlElement, link: RelayLink, c: ClearanceSettings, ctx: HookContext): boolean {
    const req = stanza.local === 'iq' && stanza.attr('type') === 'get' ? stanza.getChild('catalog', NS_CATALOG) : undefined;
    if (!req) return false;
    const target = req.attr('to') ?? stanza.attr('to') ?? '';
    const reply = x('iq', { type: 'result', id: stanza.attr('id'), from: stanza.attr('to'), to: stanza.attr('from') }, buildCatalog(c, target, link.name));
    ctx.replyLocal(reply);
    this.metrics.inc('label_catalog_answers_total', { link: link.name });
    this.log.info({ link: link.name, from: stanza.attr('from'), to: target, id: stanza.attr('id') }, 'answered a security label catalog request from the link clearance');
    return true;
  }

  private apply(stanza: XmlElement, link: RelayLink, direction: Direction, clearance: ClearanceSettings | null, table: EquivalenceEntry[]): XmlElement | StanzaError {
    if (!clearance && table.length === 0) return stanza;
    const found = findLabels(stanza);
    if (found.length === 0) return this.unlabeled(stanza, link, direction, clearance);
    try {
      if (stanza.local === 'presence' && found.some((f) => f.parent === stanza)) {
        throw new Refusal('presence', new StanzaError('bad-request', 'security labels are not allowed in presence (XEP-0258 §5.3)'), 'label in presence');
      }
      if (found.filter((f) => f.parent === stanza).length > 1) {
        throw new Refusal('unparseable', new StanzaError('bad-request', 'security label could not be read: two securitylabel elements'), 'two labels');
      }
      let edited: XmlElement | undefined;
      for (const f of found) {
        let sl = this.parse(f.el);
        const mapped = sl.label ? mapLabel(table, sl.label, direction === 'to_link' ? 'out' : 'in') : undefined;
        if (mapped) {
          edited ??= stanza.clone();
          const eqs = f.el.getChildren('equivalentlabel', NS_SECLABEL);
          const fresh = buildSecurityLabel(mapped.ess, { text: markingFor(undefined, mapped.spec), fg: mapped.spec.fgcolor, bg: mapped.spec.bgcolor }, eqs);
          replaceAt(edited, stanza, f.parent, f.el, fresh);
          const before = describeLabel(sl.label, sl.marking);
          sl = parseSecurityLabel(fresh);
          this.metrics.inc('label_mappings_total', { link: link.name, direction });
          this.log.info({ ...who(stanza, link, direction), label: before, mapped_to: describeLabel(sl.label, sl.marking), rule: 'equivalence' }, 'security label mapped to the partner policy');
        }
        if (clearance) {
          const d = decide(clearance, sl);
          if (!d.ok) throw new Refusal(d.rule, new StanzaError(d.condition, `security label refused: ${d.reason}`), describeLabel(sl.label, sl.marking));
        }
      }
      this.metrics.inc('labels_passed_total', { link: link.name, direction });
      return edited ?? stanza;
    } catch (err) {
      if (!(err instanceof Refusal)) throw err;
      return this.refuse(stanza, link, direction, err);
    }
  }

  private parse(el: XmlElement): SecurityLabel {
    try {
      return parseSecurityLabel(el);
    } catch (err) {
      if (!(err instanceof LabelError)) throw err;
      const e = new StanzaError('bad-request', `security label could not be read: ${err.message}`);
      e.bare = true; // XEP-0258 §5: no content of the violating stanza in the error
      throw new Refusal('unparseable', e, 'unparseable');
    }
  }

  /** A stanza without a label: pass, refuse, or give it the default label (messages with a body or subject only). */
  private unlabeled(stanza: XmlElement, link: RelayLink, direction: Direction, c: ClearanceSettings | null): XmlElement | StanzaError {
    const content = stanza.local === 'message' && stanza.attr('type') !== 'error' && (stanza.getChild('body') || stanza.getChild('subject'));
    if (!c || !content || c.unlabeled === 'pass') return stanza;
    const d = decide(c, undefined);
    if (!d.ok) return this.refuse(stanza, link, direction, new Refusal(d.rule, new StanzaError(d.condition, `security label refused: ${d.reason}`), 'no label'));
    const spec = c.unlabeled as Exclude<ClearanceSettings['unlabeled'], string>;
    const edited = stanza.clone();
    const sl = buildSecurityLabel(specToEss(spec), { text: markingFor(c, spec), fg: spec.fgcolor, bg: spec.bgcolor });
    edited.append(sl);
    this.metrics.inc('label_defaults_total', { link: link.name, direction });
    this.log.info({ ...who(stanza, link, direction), label: describeLabel(parseSecurityLabel(sl).label, { text: markingFor(c, spec) }), rule: 'unlabeled' }, 'default security label applied to an unlabeled stanza');
    return edited;
  }

  private refuse(stanza: XmlElement, link: RelayLink, direction: Direction, r: Refusal): StanzaError {
    this.metrics.inc('label_refusals_total', { link: link.name, direction, rule: r.rule });
    this.log.info({ ...who(stanza, link, direction), label: r.label, rule: r.rule, reason: r.err.text }, 'security label refused a stanza');
    return r.err;
  }
}

function who(stanza: XmlElement, link: RelayLink, direction: Direction): Record<string, string | undefined> {
  return { link: link.name, direction, from: stanza.attr('from'), to: stanza.attr('to'), id: stanza.attr('id') };
}

/** Replaces `old` (a child of `parent` in the original tree) in the clone `copy` of `original`. */
function replaceAt(copy: XmlElement, original: XmlElement, parent: XmlElement, old: XmlElement, fresh: XmlElement): void {
  const path: number[] = [];
  const walk = (el: XmlElement): boolean => {
    if (el === parent) return true;
    const kids = el.children;
    for (let i = 0; i < kids.length; i++) {
      const k = kids[i];
      if (typeof k !== 'string' && walk(k)) {
        path.unshift(i);
        return true;
      }
    }
    return false;
  };
  walk(original);
  let target = copy;
  for (const i of path) target = target.children[i] as XmlElement;
  const idx = parent.children.indexOf(old);
  target.children[idx] = fresh;
  target.touch();
  copy.touch();
}

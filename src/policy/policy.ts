import type { XmlElement } from '../xml/element.ts';
import { StanzaError } from '../xmpp/errors.ts';
import { domainMatches, domainOf } from '../xmpp/jid.ts';
import { NS } from '../xmpp/ns.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { StanzaHook } from '../relay/router.ts';
import type { RelayLink } from '../link/port.ts';

/** Low-value payloads that may be dropped on constrained links (XEP-0365). */
export type DropClass = 'chatstates' | 'xhtml';

export interface PolicySettings {
  allow: string[];
  block: string[];
  blockNamespaces: string[];
  drop: DropClass[];
}

const DROP_NS: Record<DropClass, string> = { chatstates: NS.CHATSTATES, xhtml: NS.XHTML_IM };

/** Namespace names operators may write instead of URIs. */
const NAMESPACE_ALIASES: Record<string, string[]> = {
  'file-transfer': ['http://jabber.org/protocol/si', 'http://jabber.org/protocol/bytestreams', 'http://jabber.org/protocol/ibb', 'urn:xmpp:jingle:apps:file-transfer:5'],
  jingle: ['urn:xmpp:jingle:1'],
};

export class PolicyHook implements StanzaHook {
  readonly name = 'policy';
  private readonly blockedNs: Set<string>;
  private readonly dropNs: Set<string>;
  private readonly log: Logger;
  private readonly metrics: Metrics;

  constructor(private readonly settings: PolicySettings, opts: { logger?: Logger; metrics?: Metrics } = {}) {
    this.blockedNs = new Set(settings.blockNamespaces.flatMap((n) => NAMESPACE_ALIASES[n] ?? [n]));
    this.dropNs = new Set(settings.drop.map((d) => DROP_NS[d]));
    this.log = (opts.logger ?? silentLogger).child({ audit: true });
    this.metrics = opts.metrics ?? new Metrics();
  }

  outbound(stanza: XmlElement, link: RelayLink): XmlElement | 'consumed' | StanzaError {
    return this.apply(stanza, link, 'to_link');
  }

  inbound(stanza: XmlElement, link: RelayLink): XmlElement[] | StanzaError {
    const r = this.apply(stanza, link, 'from_link');
    return r === 'consumed' ? [] : r instanceof StanzaError ? r : [r];
  }

  private apply(stanza: XmlElement, link: RelayLink, direction: string): XmlElement | 'consumed' | StanzaError {
    for (const attr of ['from', 'to']) {
      const d = domainOf(stanza.attr(attr));
      if (d && (!domainMatches(d, this.settings.allow) || domainMatches(d, this.settings.block))) {
        return this.refuse(stanza, link, direction, 'domain_blocked', new StanzaError('not-allowed', `policy: ${d} is not allowed across this link`));
      }
    }
    const blocked = this.findNamespace(stanza, this.blockedNs);
    if (blocked) {
      return this.refuse(stanza, link, direction, 'namespace_blocked', new StanzaError('policy-violation', `policy: ${blocked} is blocked across this link`));
    }
    if (this.dropNs.size === 0 || stanza.local !== 'message') return stanza;
    const droppable = stanza.elements().filter((c) => this.dropNs.has(c.ns));
    if (droppable.length === 0) return stanza;
    const rest = stanza.elements().filter((c) => !this.dropNs.has(c.ns));
    // A message that only carries droppable payload (a bare chat state) goes entirely.
    const meaningful = rest.some((c) => !['thread', 'origin-id', 'stanza-id', 'no-store', 'no-permanent-store', 'store'].includes(c.local));
    for (const c of droppable) this.metrics.inc('policy_drops_total', { link: link.name, direction, reason: c.local === 'html' ? 'xhtml' : 'chatstates' });
    if (!meaningful) {
      this.log.info({ link: link.name, direction, from: stanza.attr('from'), to: stanza.attr('to'), id: stanza.attr('id'), reason: 'payload_only' }, 'policy dropped a stanza');
      this.metrics.inc('drops_total', { reason: 'policy_payload', link: link.name });
      return 'consumed';
    }
    const edited = stanza.clone();
    for (const c of edited.elements()) if (this.dropNs.has(c.ns)) edited.removeChild(c);
    this.log.info({ link: link.name, direction, id: stanza.attr('id'), stripped: droppable.map((c) => c.local) }, 'policy stripped payload');
    return edited;
  }

  private findNamespace(el: XmlElement, set: Set<string>): string | undefined {
    if (set.size === 0) return undefined;
    for (const c of el.elements()) {
      if (set.has(c.ns)) return c.ns;
      const deep = this.findNamespace(c, set);
      if (deep) return deep;
    }
    return undefined;
  }

  private refuse(stanza: XmlElement, link: RelayLink, direction: string, reason: string, err: StanzaError): StanzaError {
    this.metrics.inc('drops_total', { reason: `policy_${reason}`, link: link.name });
    this.log.info({ link: link.name, direction, from: stanza.attr('from'), to: stanza.attr('to'), id: stanza.attr('id'), reason }, 'policy refused a stanza');
    return err;
  }
}

/**
 * The router: stanzas from local servers go to the link serving their `to`
 * domain; stanzas from a link go to the local servers. Whatever cannot be
 * carried is bounced to its sender with a stanza error (RFC 6120 §8.3), never
 * dropped silently.
 */
import type { XmlElement } from '../xml/element.ts';
import { bounce, StanzaError } from '../xmpp/errors.ts';
import { domainMatches, domainOf } from '../xmpp/jid.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { RelayLink } from '../link/port.ts';
import type { HookContext, OutboundVerdict, StanzaHook } from '../xmpp/hooks.ts';

export type { StanzaHook, HookContext } from '../xmpp/hooks.ts';

export interface LocalSide {
  /**
   * Delivers to a local server. Resolves once the stanza is written to an
   * authenticated session; rejects with a StanzaError when it cannot be (the
   * router bounces it), or another error when the relay is stopping (the
   * stanza stays with the link for the next start). `link`: the link the
   * stanza came from (absent for stanzas the relay makes).
   */
  deliver(stanza: XmlElement, link?: RelayLink): Promise<void> | void;
}

/** Thrown by LocalSide.deliver when the relay stops before the stanza could be written. */
export class RelayStoppingError extends Error {
  readonly code = 'RELAY_STOPPING';
  constructor(cause?: Error) {
    super(cause ? `relay stopping (${cause.message})` : 'relay stopping');
  }
}

export interface RouterOptions {
  localDomains: readonly string[];
  links: readonly RelayLink[];
  local: LocalSide;
  hooks?: StanzaHook[];
  logger?: Logger;
  metrics?: Metrics;
}

export class Router {
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly hooks: StanzaHook[];
  private readonly linkOf = new Map<string, RelayLink | undefined>();
  private readonly contexts = new Map<RelayLink, HookContext>();

  constructor(private readonly opts: RouterOptions) {
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new Metrics();
    this.hooks = opts.hooks ?? [];
  }

  /** The link serving a remote domain: explicit patterns first, "*" last (remembered per domain; the links do not change). */
  linkFor(domain: string): RelayLink | undefined {
    const known = this.linkOf.get(domain);
    if (known !== undefined || this.linkOf.has(domain)) return known;
    const specific = this.opts.links.find((l) => domainMatches(domain, l.domains.filter((d) => d !== '*')));
    const link = specific ?? this.opts.links.find((l) => l.domains.includes('*'));
    if (this.linkOf.size >= 1024) this.linkOf.clear();
    this.linkOf.set(domain, link);
    return link;
  }

  /** True when some link serves the domain: the relay stands in for it toward local servers. */
  serves(domain: string): boolean {
    return !domainMatches(domain, this.opts.localDomains) && this.linkFor(domain) !== undefined;
  }

  /** A stanza from a local server (authenticated and checked by the S2S layer). */
  fromLocal(stanza: XmlElement): Promise<void> {
    // No async frame: hooks that answer at once (most) cost no microtask, the link's send is the one promise.
    const to = domainOf(stanza.attr('to'));
    const link = to ? this.linkFor(to) : undefined;
    this.metrics.tally('stanzas_in_total', { direction: 'to_link', kind: stanza.local });
    if (!link) {
      this.refuseLocal(stanza, new StanzaError('remote-server-not-found', `no link serves ${to}`));
      return Promise.resolve();
    }
    try {
      return this.throughOutbound(stanza, link, 0, stanza);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Outbound hooks from `first` on, then the link; a hook that answers later resumes here. */
  private throughOutbound(stanza: XmlElement, link: RelayLink, first: number, out: XmlElement): Promise<void> {
    const ctx = this.hookContext(link);
    for (let i = first; i < this.hooks.length; i++) {
      const hook = this.hooks[i];
      if (!hook.outbound) continue;
      const verdict = hook.outbound(out, ctx);
      if (verdict instanceof Promise) return verdict.then((v) => this.afterHook(stanza, link, i, v));
      if (verdict === 'consumed') return Promise.resolve();
      if (verdict instanceof StanzaError) {
        this.refuseLocal(stanza, verdict);
        return Promise.resolve();
      }
      out = verdict;
    }
    let sent: Promise<void>;
    try {
      sent = link.send(out);
    } catch (err) {
      sent = Promise.reject(err as Error);
    }
    return sent.then(undefined, (err: unknown) => {
      this.refuseLocal(stanza, err instanceof StanzaError ? err : new StanzaError('internal-server-error', (err as Error).message));
    });
  }

  private afterHook(stanza: XmlElement, link: RelayLink, i: number, verdict: OutboundVerdict): Promise<void> | void {
    if (verdict === 'consumed') return;
    if (verdict instanceof StanzaError) return this.refuseLocal(stanza, verdict);
    return this.throughOutbound(stanza, link, i + 1, verdict);
  }

  /**
   * A stanza that arrived from the partner relay over a link. Resolves when
   * every resulting stanza is written to a local server or bounced.
   */
  fromLink(link: RelayLink, stanza: XmlElement): Promise<void> {
    // No async frame: one stanza is one delivery's promise (stanzas come by the thousand).
    let stanzas: readonly XmlElement[];
    try {
      stanzas = this.throughInbound(link, stanza);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (stanzas.length === 1) return this.deliverLocal(link, stanzas[0]);
    if (stanzas.length === 0) return Promise.resolve();
    return Promise.all(stanzas.map((s) => this.deliverLocal(link, s))).then(() => undefined);
  }

  /** The checks and inbound hooks: the stanzas to deliver locally (none: dropped or bounced). */
  private throughInbound(link: RelayLink, stanza: XmlElement): readonly XmlElement[] {
    const from = domainOf(stanza.attr('from'));
    const to = domainOf(stanza.attr('to'));
    this.metrics.tally('stanzas_in_total', { direction: 'from_link', kind: stanza.local });
    if (!from || !domainMatches(from, link.domains) || domainMatches(from, this.opts.localDomains)) {
      // The partner may only speak for the domains behind it.
      this.metrics.inc('drops_total', { reason: 'invalid_from', link: link.name });
      this.log.warn({ link: link.name, from: stanza.attr('from') }, 'dropped stanza from the link with a from outside the link domains');
      return [];
    }
    if (!to || !domainMatches(to, this.opts.localDomains)) {
      this.refuseRemote(link, stanza, new StanzaError('remote-server-not-found', `${to ?? 'no domain'} is not served here`));
      return [];
    }
    let stanzas: readonly XmlElement[] = [stanza];
    const ctx = this.hookContext(link);
    for (const hook of this.hooks) {
      if (!hook.inbound) continue;
      if (stanzas.length === 1) {
        // one stanza (nearly always): the hook's answer is the next list as it is
        const r = hook.inbound(stanzas[0], ctx);
        if (r instanceof StanzaError) {
          this.refuseRemote(link, stanzas[0], r);
          return [];
        }
        stanzas = r;
        continue;
      }
      const next: XmlElement[] = [];
      for (const s of stanzas) {
        const r = hook.inbound(s, ctx);
        if (r instanceof StanzaError) this.refuseRemote(link, s, r);
        else next.push(...r);
      }
      stanzas = next;
    }
    return stanzas;
  }

  private deliverLocal(link: RelayLink, s: XmlElement): Promise<void> {
    let p: Promise<void> | void;
    try {
      p = this.opts.local.deliver(s, link);
    } catch (err) {
      p = Promise.reject(err as Error);
    }
    return Promise.resolve(p).then(
      () => this.metrics.tally('stanzas_out_total', { direction: 'to_local', kind: s.local }),
      (err: unknown) => {
        if (!(err instanceof StanzaError)) throw err;
        this.refuseRemote(link, s, err);
      },
    );
  }

  /** What a hook sees of the link: its name, and replies through the router. */
  private hookContext(link: RelayLink): HookContext {
    let ctx = this.contexts.get(link);
    if (!ctx) {
      ctx = {
        link: link.name,
        replyLocal: (el) => this.toLocal(el),
        replyRemote: (el) => {
          link.send(el).catch((e: Error) => this.log.warn({ err: e.message, link: link.name }, 'link refused a hook reply'));
        },
      };
      this.contexts.set(link, ctx);
    }
    return ctx;
  }

  /** The link could not carry a stanza from a local sender: answer the sender. */
  linkUndeliverable(stanza: XmlElement, err: StanzaError): void {
    this.refuseLocal(stanza, err);
  }

  /** A local server could not take a stanza from the far side: answer across the link. */
  localUndeliverable(stanza: XmlElement, err: StanzaError): void {
    const from = domainOf(stanza.attr('from'));
    const link = from ? this.linkFor(from) : undefined;
    if (!link) {
      this.metrics.inc('drops_total', { reason: 'unroutable_bounce' });
      this.log.error({ stanza: stanza.toString().slice(0, 200) }, 'cannot bounce: no link for sender');
      return;
    }
    this.refuseRemote(link, stanza, err);
  }

  private refuseLocal(stanza: XmlElement, err: StanzaError): void {
    this.metrics.inc('bounces_total', { direction: 'to_local', condition: err.condition });
    this.log.info({ condition: err.condition, from: stanza.attr('from'), to: stanza.attr('to'), text: err.text }, 'bounced stanza to local sender');
    const reply = bounce(stanza, err);
    if (reply) this.toLocal(reply);
  }

  /** Fire-and-forget delivery of a relay-made stanza (bounce, cached answer). */
  private toLocal(el: XmlElement): void {
    Promise.resolve(this.opts.local.deliver(el)).catch((e: Error) => {
      this.metrics.inc('drops_total', { reason: 'local_reply_failed' });
      this.log.warn({ err: e.message, to: el.attr('to') }, 'could not deliver a relay-made stanza locally');
    });
  }

  private refuseRemote(link: RelayLink, stanza: XmlElement, err: StanzaError): void {
    this.metrics.inc('bounces_total', { direction: 'to_link', condition: err.condition });
    this.log.info({ link: link.name, condition: err.condition, from: stanza.attr('from'), to: stanza.attr('to') }, 'bounced stanza to remote sender');
    const reply = bounce(stanza, err);
    if (!reply) return;
    link.send(reply).catch((e: Error) => {
      this.metrics.inc('drops_total', { reason: 'bounce_refused', link: link.name });
      this.log.error({ err: e.message }, 'the link refused a bounce');
    });
  }
}

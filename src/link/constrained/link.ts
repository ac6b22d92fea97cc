/**
 * The constrained link as the router sees it: the sans-IO protocol core
 * (link/core), a durable spool (spool/) and a transport driver (link/drivers).
 *
 * Sending: a stanza is committed to the spool (its id is the link message id)
 * before send() resolves, submitted to the core in id order, and deleted when
 * the partner acknowledges it. Receiving: a delivered stanza is committed to
 * the inbound spool before the core may acknowledge it, then handed to the
 * router. After a crash both spools are replayed: nothing accepted is lost and
 * the receiver's record of delivered ids stops duplicates.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { LinkEndpoint, LinkError, type LinkTuning } from '../core/index.ts';
import { UdpLinkDriver, TcpLinkDriver, SerialLinkDriver, type LinkDriver } from '../drivers/index.ts';
import type { Spool } from '../../spool/index.ts';
import { SpoolFullError } from '../../spool/index.ts';
import { StreamParser } from '../../xml/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { NS } from '../../xmpp/ns.ts';
import { domainOf } from '../../xmpp/jid.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { LinkHandlers, LinkStatus, RelayLink } from '../../relay/link.ts';

export type ConstrainedTransport =
  | { kind: 'udp'; bind: string; peer: string }
  | { kind: 'tcp'; bind?: string; peer?: string }
  | { kind: 'serial'; device: string; baud: number };

export interface ConstrainedLinkOptions {
  name: string;
  domains: readonly string[];
  localDomains: readonly string[];
  transport: ConstrainedTransport;
  tuning: LinkTuning;
  key: Buffer;
  spool: Spool;
  heldTimeoutMs: number;
  maxStanzaBytes: number;
  logger?: Logger;
  metrics?: Metrics;
}

/** Both ends derive opposite roles from the same pair of domain lists. */
export function linkRole(localDomains: readonly string[], remoteDomains: readonly string[]): 'a' | 'b' {
  const l = [...localDomains].sort().join(',');
  const r = [...remoteDomains].sort().join(',');
  return l < r ? 'a' : 'b';
}

/** Presence is the low class; messages and iq go first. */
export function priorityOf(el: XmlElement): 'high' | 'low' {
  return el.local === 'presence' ? 'low' : 'high';
}

/** Parses one stanza's bytes (as the core delivers them) into an element. */
export function parseStanza(bytes: Buffer, maxStanzaBytes: number): XmlElement {
  let got: XmlElement | undefined;
  let error: Error | undefined;
  const p = new StreamParser(
    { stanza: (el) => (got ??= el), error: (err) => (error = err) },
    { implicitStream: { defaultNs: NS.SERVER }, maxStanzaBytes },
  );
  p.write(bytes);
  if (error) throw error;
  if (!got) throw new Error('no complete stanza in a delivered message');
  return got;
}

export class ConstrainedLink implements RelayLink {
  readonly name: string;
  readonly domains: readonly string[];
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly spool: Spool;
  private endpoint!: LinkEndpoint;
  private driver!: LinkDriver;
  private handlers?: LinkHandlers;
  private stopped = false;
  private up = false;
  private lastError?: string;
  /** Ids being committed, in allocation order; submitted to the core in that order. */
  private accepting: Array<{ id: bigint; done: boolean; bytes?: Buffer; el?: XmlElement }> = [];
  /** Inbound work (store, confirm, hand over) runs strictly in delivery order. */
  private inboundChain: Promise<void> = Promise.resolve();
  private sent = 0;
  private received = 0;
  private expiryTimer?: NodeJS.Timeout;
  /** Delivery to local servers: one ordered chain per destination domain. */
  private readonly localChains = new Map<string, Promise<void>>();
  /** Ids the previous process may have put on the bearer: never expired, always delivered. */
  private readonly resubmitted = new Set<bigint>();

  constructor(private readonly opts: ConstrainedLinkOptions) {
    this.name = opts.name;
    this.domains = opts.domains;
    this.spool = opts.spool;
    this.log = (opts.logger ?? silentLogger).child({ link: opts.name, transport: opts.transport.kind });
    this.metrics = opts.metrics ?? new Metrics();
  }

  async start(handlers: LinkHandlers): Promise<void> {
    this.handlers = handlers;
    const pending = this.spool.pending(this.name);
    this.endpoint = new LinkEndpoint(
      {
        tuning: this.opts.tuning,
        key: this.opts.key,
        role: linkRole(this.opts.localDomains, this.opts.domains),
        localDomains: [...this.opts.localDomains],
        remoteDomains: this.opts.domains.filter((d) => d !== '*').map((d) => d.replace(/^\*\./, '')),
        metrics: this.metrics,
        logger: this.log,
        random: (n) => randomBytes(n),
        resume: {
          nextSendId: pending[0]?.id ?? this.spool.nextId(this.name),
          deliveredUpTo: this.spool.deliveredUpTo(this.name),
          delivered: this.spool.deliveredAbove(this.name),
        },
      },
      performance.now(),
    );
    for (const e of pending) {
      this.endpoint.submit(e.id, e.stanza, e.meta.priority);
      this.resubmitted.add(e.id);
    }
    if (pending.length) this.log.info({ count: pending.length }, 'resubmitted spooled stanzas after restart');
    // Stanzas stored but not handed over before a restart go to the router first.
    for (const e of this.spool.inboundPending(this.name)) this.handOver(e.id, e.stanza);
    this.driver = this.makeDriver();
    await this.driver.start();
    this.expiryTimer = setInterval(() => this.expire(), 5000);
    this.expiryTimer.unref();
    this.log.info({ role: linkRole(this.opts.localDomains, this.opts.domains) }, 'constrained link started');
  }

  private makeDriver(): LinkDriver {
    const base = { name: this.name, metrics: this.metrics, logger: this.log };
    const hooks = { onEvents: () => this.drainEvents(), onTransport: (up: boolean) => this.log.info({ up }, 'transport') };
    const t = this.opts.transport;
    switch (t.kind) {
      case 'udp':
        return new UdpLinkDriver(this.endpoint, { ...base, bind: t.bind, peer: t.peer }, hooks);
      case 'tcp':
        return new TcpLinkDriver(this.endpoint, { ...base, bind: t.bind, peer: t.peer }, hooks);
      case 'serial':
        return new SerialLinkDriver(this.endpoint, { ...base, device: t.device, baud: t.baud }, hooks);
    }
  }

  async send(el: XmlElement): Promise<void> {
    if (this.stopped) throw new StanzaError('remote-server-timeout', `link ${this.name} is stopped`);
    const bytes = el.toBuffer();
    if (bytes.length > this.opts.maxStanzaBytes) throw new StanzaError('policy-violation', 'stanza too large for the link');
    const slot = { id: this.spool.nextId(this.name), done: false, bytes, el };
    this.accepting.push(slot);
    try {
      const id = await this.spool.accept(this.name, bytes, { priority: priorityOf(el), from: el.attr('from'), to: el.attr('to'), acceptedAt: Date.now() });
      if (id !== slot.id) throw new Error(`spool id ${id} differs from the expected ${slot.id}`);
    } catch (err) {
      this.accepting = this.accepting.filter((s) => s !== slot);
      this.submitReady();
      if (err instanceof SpoolFullError) {
        this.metrics.inc('link_refused_total', { link: this.name, reason: 'spool_full' });
        throw new StanzaError('resource-constraint', `spool for link ${this.name} is full`);
      }
      throw new StanzaError('internal-server-error', `spool: ${(err as Error).message}`);
    } finally {
      slot.done = true;
    }
    this.submitReady();
  }

  private submitReady(): void {
    let any = false;
    while (this.accepting.length && this.accepting[0].done) {
      const s = this.accepting.shift()!;
      try {
        this.endpoint.submit(s.id, s.bytes!, priorityOf(s.el!));
        this.sent++;
        this.metrics.inc('link_stanzas_sent_total', { link: this.name, kind: s.el!.local });
        any = true;
      } catch (err) {
        // Only a core bug gets here (ids are checked); the stanza stays spooled for the next start.
        this.lastError = (err as LinkError).message;
        this.log.error({ err: this.lastError, id: String(s.id) }, 'core refused a spooled stanza');
      }
    }
    if (any) this.driver?.poke();
  }

  private drainEvents(): void {
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      switch (ev.type) {
        case 'deliver': {
          const { id, stanza } = ev;
          this.inboundChain = this.inboundChain.then(() => this.receive(id, stanza));
          break;
        }
        case 'floor': {
          const upTo = ev.id - 1n;
          this.inboundChain = this.inboundChain.then(() =>
            this.spool.advanceDeliveredUpTo(this.name, upTo).catch((err: Error) => this.log.error({ err: err.message }, 'spool floor advance failed')),
          );
          break;
        }
        case 'acked': {
          const id = ev.id;
          this.resubmitted.delete(id);
          this.spool.ack(this.name, id).catch((err: Error) => this.log.error({ err: err.message }, 'spool ack failed'));
          break;
        }
        case 'up':
        case 'down':
          this.up = ev.type === 'up';
          this.metrics.set('link_up', this.up ? 1 : 0, { link: this.name });
          this.log.info(`link ${ev.type}`);
          break;
        case 'resync':
          this.metrics.inc('link_resyncs_total', { link: this.name });
          this.log.info('partner restarted: compression contexts reset');
          break;
      }
    }
  }

  private async receive(id: bigint, stanza: Buffer): Promise<void> {
    try {
      const fresh = await this.spool.receive(this.name, id, stanza);
      this.endpoint.confirmDelivered(id);
      this.driver.poke();
      if (!fresh) {
        this.metrics.inc('link_duplicates_dropped_total', { link: this.name });
        return;
      }
      this.handOver(id, stanza);
    } catch (err) {
      // Not stored, not acknowledged: the partner resends it.
      this.lastError = (err as Error).message;
      this.log.error({ err: this.lastError, id: String(id) }, 'could not store a received stanza');
    }
  }

  /**
   * Hands a stored stanza to the router. Per local domain, stanzas go in order,
   * one after the other; the spool forgets one only once it is written to the
   * local server or bounced, so a crash or stop before then replays it.
   */
  private handOver(id: bigint, stanza: Buffer): void {
    let el: XmlElement;
    try {
      el = parseStanza(stanza, this.opts.maxStanzaBytes);
    } catch (err) {
      this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_stanza' });
      this.log.error({ err: (err as Error).message, id: String(id) }, 'partner sent a stanza that does not parse');
      void this.spool.handedOver(this.name, id);
      return;
    }
    this.received++;
    this.metrics.inc('link_stanzas_received_total', { link: this.name, kind: el.local });
    const key = domainOf(el.attr('to')) ?? '';
    const next = (this.localChains.get(key) ?? Promise.resolve())
      .then(() => this.handlers?.deliver(el))
      .then(
        () => this.spool.handedOver(this.name, id),
        (err: Error) => this.log.info({ err: err.message, id: String(id) }, 'not handed over; kept for the next start'),
      )
      .catch((err: Error) => this.log.error({ err: err.message }, 'spool handedOver failed'));
    this.localChains.set(key, next);
    void next.then(() => {
      if (this.localChains.get(key) === next) this.localChains.delete(key);
    });
  }

  /** Bounces stanzas the core has never put on the bearer once they are held too long. */
  private expire(): void {
    const now = Date.now();
    const old = this.spool.pending(this.name).filter((e) => now - e.meta.acceptedAt > this.opts.heldTimeoutMs);
    for (const e of old) {
      if (this.resubmitted.has(e.id) || !this.endpoint.cancel(e.id)) continue; // (maybe) sent: it will be delivered
      void this.spool.ack(this.name, e.id);
      this.metrics.inc('link_expired_total', { link: this.name });
      let el: XmlElement;
      try {
        el = parseStanza(e.stanza, this.opts.maxStanzaBytes);
      } catch {
        continue;
      }
      this.handlers?.undeliverable(el, new StanzaError('remote-server-timeout', `link ${this.name} could not deliver within ${Math.round(this.opts.heldTimeoutMs / 1000)} s`));
    }
  }

  status(): LinkStatus {
    const s = this.endpoint?.stats();
    return {
      name: this.name,
      transport: this.opts.transport.kind,
      up: this.up,
      queued: s?.queued ?? 0,
      inFlight: s?.inFlight ?? 0,
      rttMs: s?.rttMs,
      lastError: this.lastError,
      sent: this.sent,
      received: this.received,
    };
  }

  /** Core figures (frames, bytes, retransmits, RTT) for status and benchmarks. */
  stats() {
    return this.endpoint.stats();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.expiryTimer);
    await this.inboundChain;
    await Promise.all(this.localChains.values());
    await this.driver?.close();
    // Unacknowledged stanzas stay in the spool and go out after the next start.
  }
}

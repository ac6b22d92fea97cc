/**
 * The constrained link as the router sees it: the sans-IO protocol core
 * (link/core), a durable spool (spool/) and a transport driver (link/drivers).
 *
 * Sending: a stanza is committed to the spool before send() resolves, then
 * waits in the outbound queue (priority, presence coalescing, fan-out folding)
 * until the core has room. What leaves the queue becomes one link message: the
 * spooled stanzas it covers and its bytes are recorded durably under a group id
 * (the core's message id) before it is submitted, and all are deleted when the
 * partner acknowledges it. Receiving: a delivered stanza is committed to
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
import { OutboundQueue } from '../../optimize/index.ts';
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
  /** Short id of the key (both ends log it, so a mismatch shows without showing the key). */
  keyId?: string;
  /** Reconnect back-off of the tcp transport, ms. */
  reconnect?: { minMs: number; maxMs: number };
  spool: Spool;
  heldTimeoutMs: number;
  maxStanzaBytes: number;
  /** Presence coalescing and fan-out folding in the queue before the core. */
  queue?: { coalescePresence: boolean; fanout: boolean };
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
  /** Ids being committed, in allocation order; queued in that order. */
  private accepting: Array<{ id: bigint; done: boolean; ok?: boolean; bytes: Buffer; el: XmlElement; acceptedAt: number }> = [];
  private readonly queue: OutboundQueue;
  private pumping = false;
  /** Messages the core should hold waiting: enough to keep the bearer busy, few enough to leave folding to the queue. */
  private readonly coreTarget: number;
  /** Inbound work (store, confirm, hand over) runs strictly in delivery order. */
  private inboundChain: Promise<void> = Promise.resolve();
  private sent = 0;
  private received = 0;
  private expiryTimer?: NodeJS.Timeout;
  /** Delivery to local servers: one ordered chain per destination domain. */
  private readonly localChains = new Map<string, Promise<void>>();

  constructor(private readonly opts: ConstrainedLinkOptions) {
    this.name = opts.name;
    this.domains = opts.domains;
    this.spool = opts.spool;
    this.log = (opts.logger ?? silentLogger).child({ link: opts.name, transport: opts.transport.kind });
    this.metrics = opts.metrics ?? new Metrics();
    this.queue = new OutboundQueue({ ...(opts.queue ?? { coalescePresence: false, fanout: false }), metrics: this.metrics, link: opts.name });
    // Enough compressed stanzas (~50 B each) to fill two frames, or a quarter second of the bearer.
    const rate = opts.tuning.rateBps ?? 64_000;
    const frame = opts.tuning.frameBytes ?? opts.tuning.mtu;
    this.coreTarget = Math.min(128, Math.max(4, Math.ceil((2 * frame) / 50), Math.ceil((rate / 8) * 0.25 / 100)));
  }

  async start(handlers: LinkHandlers): Promise<void> {
    this.handlers = handlers;
    const groups = this.spool.groups(this.name);
    const grouped = new Set(groups.flatMap((g) => g.ids));
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
        name: this.name,
        resume: {
          nextSendId: groups[0]?.gid ?? this.spool.nextGroupId(this.name),
          deliveredUpTo: this.spool.deliveredUpTo(this.name),
          delivered: this.spool.deliveredAbove(this.name),
        },
      },
      performance.now(),
    );
    // Messages assigned before a restart go out again with the same ids and bytes.
    for (const g of groups) {
      this.endpoint.submit(g.gid, g.stanza, g.priority);
    }
    let requeued = 0;
    for (const e of this.spool.pending(this.name)) {
      if (grouped.has(e.id)) continue;
      try {
        this.enqueue(e.id, parseStanza(e.stanza, this.opts.maxStanzaBytes), e.stanza.length, e.meta.acceptedAt);
        requeued++;
      } catch (err) {
        this.log.error({ err: (err as Error).message, id: String(e.id) }, 'spooled stanza does not parse; dropped');
        this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_spooled' });
        void this.spool.ack(this.name, e.id);
      }
    }
    if (groups.length || requeued) this.log.info({ messages: groups.length, queued: requeued }, 'resumed spooled stanzas after restart');
    // Stanzas stored but not handed over before a restart go to the router first.
    for (const e of this.spool.inboundPending(this.name)) this.handOver(e.id, e.stanza);
    this.driver = this.makeDriver();
    await this.driver.start();
    this.pump();
    this.expiryTimer = setInterval(() => this.expire(), 5000);
    this.expiryTimer.unref();
    this.log.info({ role: linkRole(this.opts.localDomains, this.opts.domains), keyId: this.opts.keyId }, 'constrained link started');
  }

  private makeDriver(): LinkDriver {
    const base = { name: this.name, metrics: this.metrics, logger: this.log };
    const hooks = { onEvents: () => this.drainEvents(), onTransport: (up: boolean) => this.log.info({ up }, 'transport') };
    const t = this.opts.transport;
    switch (t.kind) {
      case 'udp':
        return new UdpLinkDriver(this.endpoint, { ...base, bind: t.bind, peer: t.peer }, hooks);
      case 'tcp':
        return new TcpLinkDriver(this.endpoint, { ...base, bind: t.bind, peer: t.peer, reconnectMinMs: this.opts.reconnect?.minMs, reconnectMaxMs: this.opts.reconnect?.maxMs }, hooks);
      case 'serial':
        return new SerialLinkDriver(this.endpoint, { ...base, device: t.device, baud: t.baud }, hooks);
    }
  }

  async send(el: XmlElement): Promise<void> {
    if (this.stopped) throw new StanzaError('remote-server-timeout', `link ${this.name} is stopped`);
    const bytes = el.toBuffer();
    if (bytes.length > this.opts.maxStanzaBytes) throw new StanzaError('policy-violation', 'stanza too large for the link');
    const slot: (typeof this.accepting)[number] = { id: this.spool.nextId(this.name), done: false, bytes, el, acceptedAt: Date.now() };
    this.accepting.push(slot);
    try {
      const id = await this.spool.accept(this.name, bytes, { priority: priorityOf(el), from: el.attr('from'), to: el.attr('to'), acceptedAt: slot.acceptedAt });
      if (id !== slot.id) throw new Error(`spool id ${id} differs from the expected ${slot.id}`);
      slot.ok = true;
    } catch (err) {
      if (err instanceof SpoolFullError) {
        this.metrics.inc('link_refused_total', { link: this.name, reason: 'spool_full' });
        throw new StanzaError('resource-constraint', `spool for link ${this.name} is full`);
      }
      throw new StanzaError('internal-server-error', `spool: ${(err as Error).message}`);
    } finally {
      slot.done = true;
      this.queueAccepted();
    }
  }

  /** Moves committed stanzas into the queue in the order they were accepted. */
  private queueAccepted(): void {
    while (this.accepting.length && this.accepting[0].done) {
      const s = this.accepting.shift()!;
      if (s.ok) this.enqueue(s.id, s.el, s.bytes.length, s.acceptedAt);
    }
    this.pump();
  }

  private enqueue(id: bigint, el: XmlElement, bytes: number, acceptedAt: number): void {
    const { superseded } = this.queue.push({ id, el, bytes, priority: priorityOf(el), acceptedAt });
    // A newer presence replaced these while they waited: they need not cross.
    for (const old of superseded) void this.spool.ack(this.name, old).catch((err: Error) => this.log.error({ err: err.message }, 'spool ack failed'));
  }

  /** Hands queued items to the core while it has room: each becomes one durable link message. */
  private pump(): void {
    if (this.pumping || !this.driver || this.stopped) return;
    const room = this.coreTarget - this.endpoint.stats().waiting;
    if (room <= 0 || this.queue.length === 0) return;
    const items: Array<{ ids: bigint[]; el: XmlElement; priority: 'high' | 'low'; stanza: Buffer }> = [];
    while (items.length < room) {
      const it = this.queue.take();
      if (!it) break;
      items.push({ ...it, stanza: it.el.toBuffer() });
    }
    if (items.length === 0) return;
    this.pumping = true;
    this.spool
      .assignGroups(this.name, items.map((i) => ({ ids: i.ids, stanza: i.stanza, priority: i.priority })))
      .then(
        (gids) => {
          gids.forEach((gid, n) => {
            this.endpoint.submit(gid, items[n].stanza, items[n].priority);
            this.sent += items[n].ids.length;
            this.metrics.inc('link_stanzas_sent_total', { link: this.name, kind: items[n].el.local }, items[n].ids.length);
          });
          this.driver.poke();
        },
        (err: Error) => {
          // Not recorded, so not sent: they stay spooled and go out after the next start.
          this.lastError = err.message;
          this.log.error({ err: err.message }, 'could not record link messages; they wait in the spool');
        },
      )
      .finally(() => {
        this.pumping = false;
        this.pump();
      });
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
          const gid = ev.id;
          this.spool.ackGroup(this.name, gid).catch((err: Error) => this.log.error({ err: err.message }, 'spool ack failed'));
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
    this.pump();
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

  /**
   * Bounces stanzas held too long: those still in the queue, and link messages
   * the core has never put on the bearer. A message that has been on the bearer
   * may have arrived, so it is never bounced: it is delivered when the link returns.
   */
  private expire(): void {
    const now = Date.now();
    const bounce = (el: XmlElement) => {
      this.metrics.inc('link_expired_total', { link: this.name });
      this.handlers?.undeliverable(el, new StanzaError('remote-server-timeout', `link ${this.name} could not deliver within ${Math.round(this.opts.heldTimeoutMs / 1000)} s`));
    };
    for (const q of this.queue.expireOlderThan(now, this.opts.heldTimeoutMs)) {
      void this.spool.ack(this.name, q.id);
      bounce(q.el);
    }
    // Only link messages (a few frames' worth) are looked at; accept times come from memory.
    for (const g of this.spool.groups(this.name)) {
      const times = g.ids.map((id) => this.spool.acceptedAt(this.name, id)).filter((a) => a !== undefined);
      if (!(now - Math.min(...times) > this.opts.heldTimeoutMs) || !this.endpoint.cancel(g.gid)) continue;
      const members = g.ids.map((id) => this.spool.entry(this.name, id)).filter((e) => e !== undefined);
      void this.spool.ackGroup(this.name, g.gid);
      for (const e of members) {
        try {
          bounce(parseStanza(e.stanza, this.opts.maxStanzaBytes));
        } catch {
          this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_spooled' });
        }
      }
    }
    this.warnOnAuthFailures();
  }

  private authFailuresSeen = 0;

  /** Frames failing authentication mostly mean the two ends hold different keys: say so, at most every tick. */
  private warnOnAuthFailures(): void {
    const n = this.metrics.get('link_frames_dropped_total', { link: this.name, reason: 'auth' });
    if (n > this.authFailuresSeen) {
      this.log.warn({ frames: n - this.authFailuresSeen, keyId: this.opts.keyId }, 'link frames failed authentication: do both ends hold the same key_file (compare the key ids in their logs)?');
    }
    this.authFailuresSeen = n;
  }

  status(): LinkStatus {
    const s = this.endpoint?.stats();
    const spooled = this.spool.stats(this.name);
    return {
      name: this.name,
      transport: this.opts.transport.kind,
      up: this.up,
      queued: this.queue.length + (s?.waiting ?? 0),
      inFlight: s?.inFlight ?? 0,
      rttMs: s?.rttMs,
      lastError: this.lastError,
      sent: this.sent,
      received: this.received,
      spooled: spooled.outboundCount,
      oldestAgeS: Math.round(spooled.oldestAgeMs / 1000),
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

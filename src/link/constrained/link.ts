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
import { UdpLinkDriver, TcpLinkDriver, SerialLinkDriver, failureFields, type LinkDriver } from '../drivers/index.ts';
import type { Spool } from '../../spool/index.ts';
import { SpoolDiskFullError, SpoolError, SpoolFullError } from '../../spool/index.ts';
import { OutboundQueue } from '../../optimize/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { domainOf } from '../../xmpp/jid.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { LinkHandlers, LinkStatus, RelayLink } from '../../relay/link.ts';
import { SessionStore } from './session-store.ts';
import { AuthWatch } from './auth-watch.ts';
import { transportWhere } from './where.ts';
import { reportDamaged, type DamageSinks } from './damage.ts';
import { headOf, parseStanza, parseStanzas, partsOf, priorityOf } from './message.ts';

export { parseStanza, parseStanzas, priorityOf } from './message.ts';

export type ConstrainedTransport =
  | { kind: 'udp'; bind: string; peer?: string } // no peer: learned from the partner's frames (drivers/roaming.ts)
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
  /** this end's role, when the site file sets it (else derived from the domains) */
  role?: 'a' | 'b' | null;
  /** Reconnect back-off of the tcp transport, ms. */
  reconnect?: { minMs: number; maxMs: number };
  spool: Spool;
  heldTimeoutMs: number;
  maxStanzaBytes: number;
  /** Presence coalescing and fan-out folding in the queue before the core. */
  queue?: { coalescePresence: boolean; fanout: boolean };
  /** The link's session numbers (session-store.ts); absent: none kept across runs. */
  stateFile?: string;
  logger?: Logger;
  metrics?: Metrics;
}

/** Both ends derive opposite roles from the same pair of domain lists. */
export function linkRole(localDomains: readonly string[], remoteDomains: readonly string[], explicit?: 'a' | 'b' | null): 'a' | 'b' {
  if (explicit) return explicit;
  // Each end knows its own domains exactly and the partner's as patterns: compare the
  // smallest of each, with "*.x" read as x and "*" skipped, so both ends agree.
  const least = (ds: readonly string[]): string => ds.map((d) => (d.startsWith('*.') ? d.slice(2) : d)).filter((d) => d !== '*').sort()[0] ?? '';
  const l = least(localDomains);
  const r = least(remoteDomains);
  if (!r || l === r) throw new Error('cannot derive the link role from the domains: set role a at one end and b at the other');
  return l < r ? 'a' : 'b';
}

/** Spool failures worth retrying: the disk (full, I/O), not bad arguments or a closed spool. */
function retryable(err: unknown): boolean {
  return err instanceof SpoolError && (err.code === 'SPOOL_DISK_FULL' || err.code === 'SPOOL_IO');
}

/** Stanzas packed into one link message at most. */
const MAX_STANZAS_PER_MESSAGE = 64;

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
  private readonly localChains = new Map<string, Promise<unknown>>();
  private sessions!: SessionStore;
  private watch!: AuthWatch;

  constructor(private readonly opts: ConstrainedLinkOptions) {
    this.name = opts.name;
    this.domains = opts.domains;
    this.spool = opts.spool;
    this.log = (opts.logger ?? silentLogger).child({ link: opts.name, transport: opts.transport.kind });
    this.metrics = opts.metrics ?? new Metrics();
    this.queue = new OutboundQueue({ ...(opts.queue ?? { coalescePresence: false, fanout: false }), metrics: this.metrics, link: opts.name });
    // Messages (about a frame each when packed) for 100 ms of the bearer, plus two.
    const rate = opts.tuning.rateBps ?? 64_000;
    const frame = opts.tuning.frameBytes ?? opts.tuning.mtu;
    this.coreTarget = Math.min(64, Math.ceil(((rate / 8) * 0.1) / frame) + 2);
  }

  async start(handlers: LinkHandlers): Promise<void> {
    this.handlers = handlers;
    // Records that fail their checksum leave the spool first; their senders hear of it once the link runs.
    const recovery = this.spool.recover(this.name);
    if (recovery.rebuilt || recovery.regrouped) this.log.warn({ rebuilt: recovery.rebuilt, regrouped: recovery.regrouped }, 'damaged link messages rebuilt from their intact stanzas');
    const groups = this.spool.groups(this.name);
    const grouped = new Set(groups.flatMap((g) => g.ids));
    const role = linkRole(this.opts.localDomains, this.opts.domains, this.opts.role);
    const { store, state, fresh } = SessionStore.begin(this.opts.stateFile, this.opts.key, { random: randomBytes, nowMs: Date.now() }, this.log);
    this.sessions = store;
    this.watch = new AuthWatch({ name: this.name, metrics: this.metrics, log: this.log, keyId: this.opts.keyId, fresh });
    this.endpoint = new LinkEndpoint(
      {
        tuning: this.opts.tuning,
        key: this.opts.key,
        role,
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
        session: state,
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
    reportDamaged(recovery.damaged, this.damageSinks());
    this.pump();
    this.expiryTimer = setInterval(() => this.expire(), 5000);
    this.expiryTimer.unref();
    this.log.info({ role, keyId: this.opts.keyId, session: state.local, partnerSession: state.peer || undefined }, 'constrained link started');
  }

  private makeDriver(): LinkDriver {
    const base = { name: this.name, metrics: this.metrics, logger: this.log };
    const hooks = { onEvents: () => this.drainEvents(), onSent: () => this.pump(), onTransport: (up: boolean) => this.onTransport(up) };
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

  /** The transport came up (a TCP connection made, a port opened): the core probes at once (outage.ts). */
  private onTransport(up: boolean): void {
    this.log.info({ up }, `link ${this.name}: transport ${transportWhere(this.opts.transport, up)}`);
    if (up) this.endpoint.bearerUp(performance.now());
  }

  async send(el: XmlElement): Promise<void> {
    if (this.stopped) throw new StanzaError('remote-server-timeout', `link ${this.name} is stopped`);
    const bytes = el.toBuffer();
    if (bytes.length > this.opts.maxStanzaBytes) throw new StanzaError('policy-violation', 'stanza too large for the link');
    const slot: (typeof this.accepting)[number] = { id: this.spool.nextId(this.name), done: false, bytes, el, acceptedAt: Date.now() };
    this.accepting.push(slot);
    try {
      const h = headOf(el);
      const id = await this.spool.accept(this.name, bytes, { priority: priorityOf(el), from: h.from, to: h.to, acceptedAt: slot.acceptedAt, kind: h.kind, sid: h.id, type: h.type });
      if (id !== slot.id) throw new Error(`spool id ${id} differs from the expected ${slot.id}`);
      slot.ok = true;
    } catch (err) {
      if (err instanceof SpoolFullError) {
        this.metrics.inc('link_refused_total', { link: this.name, reason: 'spool_full' });
        throw new StanzaError('resource-constraint', `spool for link ${this.name} is full`);
      }
      if (err instanceof SpoolDiskFullError) {
        // RFC 6120 §8.3.3.18: the relay lacks the storage to take it now.
        this.metrics.inc('link_refused_total', { link: this.name, reason: 'disk_full' });
        throw new StanzaError('resource-constraint', `no disk space for the spool of link ${this.name}`);
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

  /**
   * Hands queued stanzas to the core while it has room. Stanzas of one class
   * taken together are packed into one link message (up to about a frame of
   * compressed bytes): one deflate flush and one durable record cover them all,
   * and the receiver acknowledges them with one id. When the bearer is busy the
   * core holds only a few messages, so a backlog waits here and is packed.
   */
  private pump(): void {
    if (this.pumping || !this.driver || this.stopped) return;
    const room = this.coreTarget - this.endpoint.waitingCount();
    if (room <= 0 || this.queue.length === 0) return;
    const limit = this.messageBytesLimit();
    const msgs: Array<{ ids: bigint[]; kinds: Array<[string, number]>; priority: 'high' | 'low'; parts: Buffer[]; bytes: number }> = [];
    const open = (): boolean => {
      const last = msgs.at(-1);
      return last !== undefined && last.bytes < limit && last.parts.length < MAX_STANZAS_PER_MESSAGE;
    };
    // room is a target: the item that does not fit the last message may start one more
    while (msgs.length < room || (open() && msgs.length <= room)) {
      const it = this.queue.take();
      if (!it) break;
      const bytes = it.el.toBuffer();
      const last = msgs.at(-1);
      if (last && open() && last.priority === it.priority && last.bytes + bytes.length <= limit) {
        last.ids.push(...it.ids);
        last.kinds.push([it.el.local, it.ids.length]);
        last.parts.push(bytes);
        last.bytes += bytes.length;
      } else {
        msgs.push({ ids: [...it.ids], kinds: [[it.el.local, it.ids.length]], priority: it.priority, parts: [bytes], bytes: bytes.length });
      }
    }
    if (msgs.length === 0) return;
    const items = msgs.map((m) => ({ ids: m.ids.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), kinds: m.kinds, priority: m.priority, stanza: m.parts.length === 1 ? m.parts[0] : Buffer.concat(m.parts) }));
    this.pumping = true;
    this.assignRetrying(items.map((i) => ({ ids: i.ids, stanza: i.stanza, priority: i.priority })))
      .then(
        (gids) => {
          gids.forEach((gid, n) => {
            this.endpoint.submit(gid, items[n].stanza, items[n].priority);
            this.sent += items[n].ids.length;
            for (const [kind, count] of items[n].kinds) this.metrics.inc('link_stanzas_sent_total', { link: this.name, kind }, count);
          });
          this.driver.poke();
        },
        (err: Error) => {
          // Stopped before they could be recorded: they stay spooled and go out after the next start.
          this.lastError = err.message;
          this.log.error({ err: err.message }, 'could not record link messages; they wait in the spool');
        },
      )
      .finally(() => {
        this.pumping = false;
        this.pump();
      });
  }

  /** Stanza bytes packed into one link message: about one frame once compressed (the ratio seen so far), within maxStanzaBytes. */
  private messageBytesLimit(): number {
    const frame = this.opts.tuning.frameBytes ?? this.opts.tuning.mtu;
    const { compressedBytesOut: comp, stanzaBytesOut: raw } = this.endpoint.stats();
    const ratio = comp > 0 && raw > 0 ? Math.min(12, Math.max(2, raw / comp)) : 4;
    return Math.max(1, Math.min(this.opts.maxStanzaBytes, Math.floor((frame - 40) * ratio)));
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
        case 'resync': // the core logs it, at most once a minute
          this.metrics.inc('link_resyncs_total', { link: this.name });
          break;
        case 'session':
        case 'partner_version':
          this.sessions.onEvent(ev, this.log, this.metrics, this.name);
          break;
      }
    }
    this.pump();
  }

  /**
   * Records link messages. A failed commit (a full disk) is tried again every
   * second while the link runs, with pumping held, so order is kept; taken
   * out of the queue, they would otherwise wait for the next start.
   */
  private assignRetrying(groups: Array<{ ids: bigint[]; stanza: Buffer; priority: 'high' | 'low' }>): Promise<bigint[]> {
    return this.retryingStore(() => this.spool.assignGroups(this.name, groups), 'could not record link messages', {});
  }

  private async receive(id: bigint, stanza: Buffer): Promise<void> {
    // The core has this message as delivered and drops the partner's resends of it
    // until confirmDelivered: a failed store (a full disk) is retried here, in order.
    const fields = { id: String(id) };
    try {
      await this.retryingStore(() => this.receiveOnce(id, stanza), 'could not store a received stanza', fields);
    } catch {
      this.log.error({ err: this.lastError, ...fields }, 'could not store a received stanza');
    }
  }

  /** Runs a spool write, again every second while it fails for the disk and the link runs; other failures are thrown. */
  private async retryingStore<T>(write: () => Promise<T>, what: string, fields: Record<string, string>): Promise<T> {
    for (;;) {
      try {
        return await write();
      } catch (err) {
        this.lastError = (err as Error).message;
        if (this.stopped || !retryable(err)) throw err;
        this.log.error({ err: this.lastError, ...fields }, `${what}; retrying in 1 s`);
        await new Promise((r) => setTimeout(r, 1000));
        if (this.stopped) throw err;
      }
    }
  }

  private async receiveOnce(id: bigint, stanza: Buffer): Promise<void> {
    // Stored stanza by stanza (a checksum and a bounce address each), when the message parses.
    let els: XmlElement[] | undefined;
    try {
      els = parseStanzas(stanza, this.opts.maxStanzaBytes);
    } catch {
      els = undefined; // handOver reports it
    }
    const fresh = await this.spool.receive(this.name, id, stanza, undefined, els && partsOf(stanza, els));
    this.endpoint.confirmDelivered(id);
    this.driver.poke();
    if (!fresh) {
      this.metrics.inc('link_duplicates_dropped_total', { link: this.name });
      return;
    }
    this.handOver(id, stanza, els);
  }

  /**
   * Hands a stored link message (one or more stanzas) to the router. Per local
   * domain, messages go in order, one after the other; the spool forgets a
   * stanza only once it is written to the local server or bounced, so a crash
   * or stop before then replays it.
   */
  private handOver(id: bigint, stanza: Buffer, parsed?: XmlElement[]): void {
    let els: XmlElement[];
    try {
      els = parsed ?? parseStanzas(stanza, this.opts.maxStanzaBytes);
    } catch (err) {
      this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_stanza' });
      this.log.error({ err: (err as Error).message, id: String(id) }, 'partner sent a stanza that does not parse');
      void this.spool.handedOver(this.name, id);
      return;
    }
    // Of a multi-stanza message, the stanzas not yet handed over (a restart replays only these).
    const parts = els.length > 1 ? els.map((el) => el.raw ?? el.toBuffer()) : [];
    const left = new Set(els.keys());
    const done: Array<Promise<boolean>> = [];
    let progress: Promise<unknown> = Promise.resolve();
    // Progress is written once per event-loop turn (lmdb commits once per turn anyway), not per stanza.
    let scheduled = false;
    const recordProgress = (): void => {
      if (scheduled || parts.length === 0) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (left.size === 0 || left.size === els.length) return;
        const kept = [...left].sort((x, y) => x - y);
        const rest = Buffer.concat(kept.map((k) => parts[k]));
        const restParts = kept.map((k) => ({ length: parts[k].length, head: headOf(els[k]) }));
        progress = this.spool.keepInbound(this.name, id, rest, restParts).catch((err: Error) => this.log.error({ err: err.message }, 'spool keepInbound failed'));
      });
    };
    // Per local domain, one stanza after the other, each once the previous one is
    // confirmed (XEP-0198 acked): a local server that goes away can have been
    // sent at most one stanza it did not confirm, which a restart sends again.
    els.forEach((el, i) => {
      this.received++;
      this.metrics.inc('link_stanzas_received_total', { link: this.name, kind: el.local });
      const key = domainOf(el.attr('to')) ?? '';
      const next = (this.localChains.get(key) ?? Promise.resolve())
        .then(() => this.handlers?.deliver(el))
        .then(
          () => {
            left.delete(i);
            if (left.size > 0) recordProgress();
            return true;
          },
          (err: Error) => {
            this.log.info({ err: err.message, id: String(id) }, 'not handed over; kept for the next start');
            return false;
          },
        );
      done.push(next);
      this.localChains.set(key, next);
      void next.then(() => {
        if (this.localChains.get(key) === next) this.localChains.delete(key);
      });
    });
    // The message leaves the inbound spool once every stanza in it is written to its local server or bounced.
    void Promise.all(done)
      .then((oks) => (oks.every(Boolean) ? this.spool.handedOver(this.name, id) : progress))
      .catch((err: Error) => this.log.error({ err: err.message }, 'spool handedOver failed'));
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
      const members = g.ids.map((id) => ({ id, e: this.spool.entry(this.name, id) }));
      const damaged = members.flatMap((m) => (m.e ? [] : (this.spool.damagedOut(this.name, m.id) ?? [])));
      void this.spool.ackGroup(this.name, g.gid);
      for (const { e } of members) {
        if (!e) continue;
        try {
          bounce(parseStanza(e.stanza, this.opts.maxStanzaBytes));
        } catch {
          this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_spooled' });
        }
      }
      reportDamaged(damaged, this.damageSinks());
    }
    this.watch.tick(performance.now(), this.up, this.endpoint.stats());
  }

  /** Where bounces of stanzas lost to spool damage go: local senders via the router, far senders over this link. */
  private damageSinks(): DamageSinks {
    const remote = (reply: XmlElement) => void this.send(reply).catch((err: Error) => this.log.error({ err: err.message }, 'the link refused a bounce'));
    return { link: this.name, log: this.log, metrics: this.metrics, local: (el, err) => this.handlers?.undeliverable(el, err), remote };
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
      ...failureFields(this.lastError, this.driver?.failing?.()),
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

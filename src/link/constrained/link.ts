/**
 * The constrained link as the relay sees it (RelayLink): a thin host that
 * wires its sans-IO parts to a clock, the spool and a driver.
 *  - outbox.ts: accepted stanzas -> spool -> scheduler -> packer.ts -> durable
 *    link messages -> core; expiry of held stanzas;
 *  - inbox.ts: messages the core delivers -> inbound spool -> confirmed to the
 *    core -> handed to the relay; progress records;
 *  - the core (link/core): the link protocol; the driver (made by the
 *    DriverFactory the relay passes in) owns the transport.
 * Every timer (the driver's, store retries, the 5 s expiry tick) runs on the
 * one Clock given (time/; a SystemClock by default: one Node timer). After a
 * crash both spools are replayed: nothing accepted is lost and the
 * receiver's record of delivered ids stops duplicates.
 */
import { randomBytes } from 'node:crypto';
import { LinkEndpoint, type LinkEvent, type LinkTuning } from '../core/index.ts';
import { failureFields, type DriverFactory, type LinkDriver } from '../drivers/index.ts';
import type { Spool } from '../../spool/index.ts';
import type { XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { SystemClock, type Cancel } from '../../time/index.ts';
import type { Clock, LinkHandlers, LinkStatus, OutboundScheduler, RelayLink } from '../port.ts';
import type { MultiBearerDriver } from '../bearers/index.ts';
import { SessionStore } from './session-store.ts';
import { AuthWatch } from './auth-watch.ts';
import { reportDamaged, type DamageSinks } from './damage.ts';
import { Outbox } from './outbox.ts';
import { Inbox } from './inbox.ts';
import { coreTarget } from './packer.ts';
import { linkRole } from './role.ts';
import { meterCore } from './core-metrics.ts';
import type { Metering } from '../metered/index.ts';

export { parseStanza, parseStanzas, priorityOf } from './message.ts';
export { linkRole } from './role.ts';

export interface ConstrainedLinkOptions {
  name: string;
  domains: readonly string[];
  localDomains: readonly string[];
  /** Makes the transport driver (the relay builds it from the site file: drivers/factory.ts). */
  driver: DriverFactory;
  tuning: LinkTuning;
  key: Buffer;
  /** Short id of the key (both ends log it, so a mismatch shows without showing the key). */
  keyId?: string;
  /** this end's role, when the site file sets it (else derived from the domains) */
  role?: 'a' | 'b' | null;
  spool: Spool;
  /** The order stanzas go to the core in (the relay gives optimize's OutboundQueue). */
  scheduler: OutboundScheduler;
  /** limits.held_stanza_timeout_s, ms. */
  heldTimeoutMs: number;
  maxStanzaBytes: number;
  /** The link's session numbers (session-store.ts); absent: none kept across runs. */
  stateFile?: string;
  /** Default: a SystemClock of the link's own (one Node timer). */
  clock?: Clock;
  /** A metered bearer (link/metered/): counts this link's bytes; its scheduler is `scheduler`. */
  metering?: Metering;
  /** Randomness for the core and the session store; default node:crypto. */
  random?: (n: number) => Buffer;
  logger?: Logger;
  metrics?: Metrics;
}

/** Held stanzas are looked at, and the auth watch ticks, this often. */
const TICK_MS = 5000;

export class ConstrainedLink implements RelayLink {
  readonly name: string;
  readonly domains: readonly string[];
  /** The inbound spool forgets a message once each stanza is confirmed: in order per local domain, up to local.delivery_window unconfirmed. */
  readonly deliverInOrder = true;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly spool: Spool;
  private readonly clock: Clock;
  private readonly random: (n: number) => Buffer;
  private readonly outbox: Outbox;
  private readonly inbox: Inbox;
  private endpoint?: LinkEndpoint;
  private driver?: LinkDriver;
  private handlers?: LinkHandlers;
  private stopped = false;
  private up = false;
  private lastError?: string;
  private tick?: Cancel;
  private sessions!: SessionStore;
  private watch!: AuthWatch;

  constructor(private readonly opts: ConstrainedLinkOptions) {
    this.name = opts.name;
    this.domains = opts.domains;
    this.spool = opts.spool;
    this.clock = opts.clock ?? new SystemClock();
    this.random = opts.random ?? randomBytes;
    this.log = (opts.logger ?? silentLogger).child({ link: opts.name, transport: opts.driver.kind });
    this.metrics = opts.metrics ?? new Metrics();
    const common = { name: opts.name, clock: this.clock, maxStanzaBytes: opts.maxStanzaBytes, metrics: this.metrics, log: this.log, failed: (m: string) => (this.lastError = m) };
    this.outbox = new Outbox({
      ...common,
      spool: opts.spool,
      scheduler: opts.scheduler,
      coreTarget: coreTarget(opts.tuning),
      frameBytes: opts.tuning.frameBytes ?? opts.tuning.mtu,
      heldTimeoutMs: opts.heldTimeoutMs,
    });
    this.inbox = new Inbox({ ...common, spool: opts.spool });
  }

  async start(handlers: LinkHandlers): Promise<void> {
    this.handlers = handlers;
    const { opts, spool, name } = this;
    // Records that fail their checksum leave the spool first; their senders hear of it once the link runs.
    const recovery = spool.recover(name);
    if (recovery.rebuilt || recovery.regrouped) this.log.warn({ rebuilt: recovery.rebuilt, regrouped: recovery.regrouped }, 'damaged link messages rebuilt from their intact stanzas');
    const groups = spool.groups(name);
    const role = linkRole(opts.localDomains, opts.domains, opts.role);
    const { store, state, fresh } = SessionStore.begin(opts.stateFile, opts.key, { random: this.random, nowMs: this.clock.wall() }, this.log);
    this.sessions = store;
    this.watch = new AuthWatch({ name, metrics: this.metrics, log: this.log, keyId: opts.keyId, fresh });
    const endpoint = new LinkEndpoint(
      {
        tuning: opts.tuning,
        key: opts.key,
        role,
        localDomains: [...opts.localDomains],
        remoteDomains: opts.domains.filter((d) => d !== '*').map((d) => d.replace(/^\*\./, '')),
        logger: this.log,
        random: this.random,
        resume: { nextSendId: groups[0]?.gid ?? spool.nextGroupId(name), deliveredUpTo: spool.deliveredUpTo(name), delivered: spool.deliveredAbove(name) },
        session: state,
      },
      this.clock.now(),
    );
    this.endpoint = endpoint;
    meterCore(this.metrics, name, () => endpoint.stats());
    opts.metering?.attach(() => endpoint.stats(), () => this.outbox.pump());
    // Messages recorded before a restart go out again with the same ids and bytes.
    for (const g of groups) endpoint.submit(g.gid, g.stanza, g.priority, this.clock.now());
    const requeued = this.outbox.resume(new Set(groups.flatMap((g) => g.ids)));
    if (groups.length || requeued) this.log.info({ messages: groups.length, queued: requeued }, 'resumed spooled stanzas after restart');
    // Stanzas stored but not handed over before a restart go to the relay first.
    this.inbox.start({
      confirm: (id) => {
        endpoint.confirmDelivered(id, this.clock.now());
        this.driver?.poke();
      },
      deliver: (el, released) => handlers.deliver(el, released),
    });
    const driver = opts.driver.create(
      endpoint,
      { name, metrics: this.metrics, logger: this.log, clock: this.clock },
      { onEvents: () => this.onCoreEvents(), onSent: () => this.outbox.pump(), onTransport: (up) => this.onTransport(up) },
    );
    this.driver = driver;
    await driver.start();
    reportDamaged(recovery.damaged, this.damageSinks());
    this.outbox.start({
      core: endpoint,
      poke: () => driver.poke(),
      bounce: (el, err) => handlers.undeliverable(el, err),
      damaged: (list) => reportDamaged(list, this.damageSinks()),
    });
    this.scheduleTick();
    this.log.info({ role, keyId: opts.keyId, session: state.local, partnerSession: state.peer || undefined }, 'constrained link started');
  }

  /** Every TICK_MS: bounce what was held too long, and tell the operator what dropped frames mean. */
  private scheduleTick(): void {
    this.tick = this.clock.schedule(TICK_MS, () => {
      if (this.stopped) return;
      this.outbox.expire();
      this.opts.metering?.tick();
      if (this.endpoint) this.watch.tick(this.clock.now(), this.up, this.endpoint.stats());
      this.scheduleTick();
    });
  }

  /** The transport came up (a TCP connection made, a port opened): the core probes at once (outage.ts). */
  private onTransport(up: boolean): void {
    this.log.info({ up }, `link ${this.name}: transport ${this.opts.driver.where(up)}`);
    if (up) this.endpoint?.bearerUp(this.clock.now());
  }

  /**
   * Each batch of core output, after every input the driver gave the core
   * (a frame, a timeout): the one place the host reads the core's events.
   */
  private onCoreEvents(): void {
    const endpoint = this.endpoint!;
    for (let ev = endpoint.pollEvent(); ev; ev = endpoint.pollEvent()) this.onCoreEvent(ev);
    this.outbox.pump();
  }

  private onCoreEvent(ev: LinkEvent): void {
    switch (ev.type) {
      case 'deliver':
        this.inbox.delivered(ev.id, ev.stanza);
        break;
      case 'floor':
        this.inbox.floor(ev.id);
        break;
      case 'acked':
        this.spool.ackGroup(this.name, ev.id).catch((err: Error) => this.log.error({ err: err.message }, 'spool ack failed'));
        break;
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

  async send(el: XmlElement): Promise<void> {
    if (this.stopped) throw new StanzaError('remote-server-timeout', `link ${this.name} is stopped`);
    const bytes = el.toBuffer();
    if (bytes.length > this.opts.maxStanzaBytes) throw new StanzaError('policy-violation', 'stanza too large for the link');
    await this.outbox.accept(el, bytes);
  }

  /** Where bounces of stanzas lost to spool damage go: local senders via the relay, far senders over this link. */
  private damageSinks(): DamageSinks {
    const remote = (reply: XmlElement) => void this.send(reply).catch((err: Error) => this.log.error({ err: err.message }, 'the link refused a bounce'));
    return { link: this.name, log: this.log, metrics: this.metrics, local: (el, err) => this.handlers?.undeliverable(el, err), remote };
  }

  status(): LinkStatus {
    const s = this.endpoint?.stats();
    const spooled = this.spool.stats(this.name);
    return {
      name: this.name,
      transport: this.opts.driver.kind,
      up: this.up,
      queued: this.outbox.queued + (s?.waiting ?? 0),
      inFlight: s?.inFlight ?? 0,
      rttMs: s?.rttMs,
      ...failureFields(this.lastError, this.driver?.failing?.(), this.clock.wall()),
      ...this.bearerStatus(),
      sent: this.outbox.sent,
      received: this.inbox.received,
      spooled: spooled.outboundCount,
      oldestAgeS: Math.round(spooled.oldestAgeMs / 1000),
      ...(this.opts.metering ? { metered: this.opts.metering.status() } : {}),
    };
  }

  /** A link over several bearers: each bearer's state. */
  private bearerStatus(): { bearers?: ReturnType<MultiBearerDriver['bearers']> } {
    const d = this.driver as Partial<Pick<MultiBearerDriver, 'bearers'>> | undefined;
    return d?.bearers ? { bearers: d.bearers() } : {};
  }

  /** Core figures (frames, bytes, retransmits, RTT) for status and benchmarks. */
  stats() {
    return this.endpoint!.stats();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.tick?.();
    this.outbox.stop();
    await this.inbox.stop();
    await this.driver?.close();
    this.opts.metering?.close();
    // Unacknowledged stanzas stay in the spool and go out after the next start.
  }
}

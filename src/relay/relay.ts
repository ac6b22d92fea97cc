/**
 * One relay process: the S2S service toward the local servers, the links to
 * partner relays, and the router between them.
 */
import { S2SService } from '../s2s/index.ts';
import { DEFAULT_TIMEOUTS } from '../s2s/options.ts';
import { heldTimeoutMs } from '../config/defaults.ts';
import { CertStore } from '../s2s/tls/index.ts';
import { TrustPolicy, type TrustSettings } from '../s2s/trust/index.ts';
import { StanzaError } from '../xmpp/errors.ts';
import type { XmlElement } from '../xml/element.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import { startObsServer, type ObsServer } from '../obs/http.ts';
import type { HttpLimits } from '../obs/http-guard.ts';
import type { AdmissionLimits, PendingSummary } from '../s2s/admission.ts';
import type { LinkStatus, RelayLink } from '../link/port.ts';
import { SystemClock, type Clock } from '../time/index.ts';
import { Router, type StanzaHook } from './router.ts';
import { StatusView } from './status-view.ts';
import { LocalDelivery } from './local-delivery.ts';

export interface RelaySettings {
  site: string;
  localDomains: string[];
  listen: string[];
  directTlsListen?: string[];
  routes: Record<string, string>;
  dnsServers?: string[];
  /** ca: extra PKIX trust anchors (PEM text) beside Node's root store */
  tls: { certDir: string; cert?: string; key?: string; require: boolean; ca?: string[] };
  /** per S2S peer domain trust rules (PKIX, DANE, TLS, dialback); absent: TLS as tls.require, nothing else required */
  trust?: TrustSettings;
  dialbackSecret: Buffer;
  maxStanzaBytes: number;
  metricsListen?: { host: string; port: number };
  s2sTimeouts?: { connectMs?: number; authMs?: number; idleMs?: number; queueMs?: number };
  /** Unauthenticated inbound S2S connections allowed at once (s2s.max_pending*). */
  s2sAdmission?: AdmissionLimits;
  /** Connection limits of the metrics/status listener (metrics.*). */
  metricsLimits?: HttpLimits;
  /** Stanzas of one link written to one local domain before its XEP-0198 ack (local.delivery_window). */
  deliveryWindow?: number;
}

export interface RelayStatus {
  site: string;
  startedAt: string;
  uptimeS: number;
  links: LinkStatus[];
  /** Outbound sessions and authenticated inbound ones (never an unverified name). */
  sessions: ReturnType<S2SService['sessions']>;
  /** Inbound connections not yet authenticated, summed up, and refusals since start. */
  pending?: PendingSummary;
  lastError?: string;
}

export class Relay {
  readonly metrics: Metrics;
  readonly router: Router;
  readonly s2s: S2SService;
  private readonly log: Logger;
  private obs?: ObsServer;
  private readonly startedAt = new Date();
  private lastError?: string;
  /** Order, retry and hold time of stanzas to the local servers. */
  private readonly local: LocalDelivery;
  private readonly sessionSeries = new Set<string>();
  /** The status page's last hour of each link and latest errors. */
  readonly view: StatusView;

  constructor(
    readonly settings: RelaySettings,
    readonly links: RelayLink[],
    private readonly opts: { logger?: Logger; metrics?: Metrics; hooks?: StanzaHook[]; onStop?: () => Promise<void> | void; version?: string; clock?: Clock } = {},
  ) {
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new Metrics({ site: settings.site });
    this.local = new LocalDelivery({
      send: (el) => this.s2s.send(el),
      holdMs: settings.s2sTimeouts?.queueMs ?? heldTimeoutMs(),
      clock: opts.clock ?? new SystemClock(),
      metrics: this.metrics,
      log: this.log,
      failed: (m) => (this.lastError = m),
      window: settings.deliveryWindow,
    });
    this.view = new StatusView(() => this.status(), this.metrics, opts.version);
    this.router = new Router({
      localDomains: settings.localDomains,
      links,
      local: { deliver: (el, link) => this.local.deliver(el, link?.deliverInOrder ? link.name : undefined) },
      hooks: opts.hooks,
      logger: this.log,
      metrics: this.metrics,
    });
    const certs = new CertStore({
      dir: settings.tls.certDir,
      configured: settings.tls.cert && settings.tls.key ? { cert: settings.tls.cert, key: settings.tls.key } : undefined,
      ca: settings.tls.ca,
      logger: this.log,
    });
    this.s2s = new S2SService({
      listen: settings.listen,
      directTlsListen: settings.directTlsListen,
      localDomains: settings.localDomains,
      servedDomains: (d: string) => this.router.serves(d),
      routes: settings.routes,
      dnsServers: settings.dnsServers,
      tls: { certs, require: settings.tls.require },
      trust: settings.trust && new TrustPolicy(settings.trust, { dnsServers: settings.dnsServers, tlsRequired: settings.tls.require }),
      secret: settings.dialbackSecret,
      bidi: true, // XEP-0288 wherever the local server offers or asks for it
      maxStanzaBytes: settings.maxStanzaBytes,
      timeouts: settings.s2sTimeouts,
      admission: settings.s2sAdmission,
      logger: this.log.child({ part: 's2s' }),
      metrics: this.metrics,
      onStanza: (el: XmlElement) => this.router.fromLocal(el),
      onUndeliverable: (el: XmlElement, err: StanzaError) => this.router.localUndeliverable(el, err),
    });
  }

  async start(): Promise<void> {
    for (const link of this.links) {
      const route = (el: XmlElement): Promise<void> => this.router.fromLink(link, el);
      await link.start({
        deliver: link.deliverInOrder ? (el, released) => this.local.inOrder(link.name, el, () => route(el), released) : route,
        undeliverable: (el, err) => this.router.linkUndeliverable(el, err),
      });
    }
    await this.s2s.start();
    if (this.settings.metricsListen) {
      this.obs = await startObsServer({
        ...this.settings.metricsListen,
        metrics: this.metrics,
        status: () => this.status(),
        beforeScrape: () => this.collectGauges(),
        limits: this.settings.metricsLimits,
        logger: this.log.child({ part: 'metrics' }),
        page: () => this.view.page(),
      });
      this.view.start();
    }
    const s2s = this.s2s.addresses.map((a) => `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}${a.directTls ? ' (direct TLS)' : ''}`);
    this.log.info({ s2s: this.s2s.addresses, links: this.links.map((l) => l.name) }, `relay started: S2S on ${s2s.join(', ')}; links ${this.links.map((l) => l.name).join(', ') || 'none'}`);
  }

  /** Address of the metrics/status endpoint, when enabled. */
  get obsPort(): number | undefined {
    return this.obs?.port;
  }

  /** Point-in-time gauges, refreshed before each scrape. */
  collectGauges(): void {
    this.metrics.set('uptime_seconds', Math.round((Date.now() - this.startedAt.getTime()) / 1000));
    for (const l of this.links.map((x) => x.status())) {
      const labels = { link: l.name };
      this.metrics.set('link_up', l.up ? 1 : 0, labels);
      this.metrics.set('link_queued_stanzas', l.queued, labels);
      this.metrics.set('link_in_flight', l.inFlight, labels);
      if (l.rttMs !== undefined) this.metrics.set('link_rtt_ms', l.rttMs, labels);
      if (l.spooled !== undefined) this.metrics.set('spool_depth_stanzas', l.spooled, labels);
      if (l.oldestAgeS !== undefined) this.metrics.set('spool_oldest_age_seconds', l.oldestAgeS, labels);
    }
    this.metrics.set('s2s_pending_sessions', this.s2s.pendingSummary().pending);
    const bySession = new Map<string, number>();
    for (const s of this.s2s.sessions()) bySession.set(`${s.direction}|${s.state}`, (bySession.get(`${s.direction}|${s.state}`) ?? 0) + 1);
    // A state with no sessions left reads 0, not its last count.
    for (const k of this.sessionSeries) if (!bySession.has(k)) bySession.set(k, 0);
    for (const [k, n] of bySession) {
      const [direction, state] = k.split('|');
      this.metrics.set('s2s_sessions', n, { direction, state });
      this.sessionSeries.add(k);
    }
  }

  status(): RelayStatus {
    return {
      site: this.settings.site,
      startedAt: this.startedAt.toISOString(),
      uptimeS: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      links: this.links.map((l) => l.status()),
      sessions: this.s2s.sessions().filter((s) => s.direction === 'out' || s.state === 'authed'),
      pending: this.s2s.pendingSummary(),
      lastError: this.lastError,
    };
  }

  /** Stops links, then S2S (streams closed with system-shutdown), then the endpoint; `reason` (e.g. SIGTERM) is logged. */
  async stop(reason?: string): Promise<void> {
    this.log.info({ reason }, reason ? `relay stopping: ${reason}` : 'relay stopping');
    this.local.stop();
    // Links first: what they cannot carry is bounced to local senders, and
    // those bounces are written to the local servers before S2S closes.
    for (const link of this.links) await link.stop();
    // Each local delivery is bounded by the S2S connect and auth timeouts; this wait too.
    const t = { ...DEFAULT_TIMEOUTS, ...this.settings.s2sTimeouts };
    await this.local.settle(t.connectMs + t.authMs);
    await this.s2s.stop('system-shutdown');
    this.view.stop();
    await this.obs?.close();
    await this.opts.onStop?.();
    this.log.info('relay stopped');
  }
}

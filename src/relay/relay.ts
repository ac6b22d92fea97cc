/**
 * One relay process: the S2S service toward the local servers, the links to
 * partner relays, and the router between them.
 */
import { S2SService } from '../s2s/index.ts';
import { DEFAULT_TIMEOUTS } from '../s2s/options.ts';
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
import { Router, RelayStoppingError, type StanzaHook } from './router.ts';
import { StatusView } from './status-view.ts';

/** Conditions after which a local delivery is tried again while the stanza may still wait. */
const RETRYABLE = new Set(['remote-server-not-found', 'remote-server-timeout', 'resource-constraint']);

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
  private stopping = false;
  private readonly sleepers = new Set<() => void>();
  /** Local deliveries in progress (stop waits for them). */
  private readonly delivering = new Set<Promise<void>>();
  private readonly sessionSeries = new Set<string>();
  /** The status page's last hour of each link and latest errors. */
  readonly view: StatusView;

  constructor(
    readonly settings: RelaySettings,
    readonly links: RelayLink[],
    private readonly opts: { logger?: Logger; metrics?: Metrics; hooks?: StanzaHook[]; onStop?: () => Promise<void> | void; version?: string } = {},
  ) {
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new Metrics({ site: settings.site });
    this.view = new StatusView(() => this.status(), this.metrics, opts.version);
    this.router = new Router({
      localDomains: settings.localDomains,
      links,
      local: { deliver: (el) => this.deliverLocal(el) },
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
      await link.start({
        deliver: (el) => this.router.fromLink(link, el),
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

  /**
   * Writes a stanza to a local server: one from the far side, or one the relay
   * made (a bounce, a cached answer). While the local server cannot be reached
   * it is tried again, with back-off, for up to the held-stanza time; then the
   * error goes to the router, which bounces it. Once the relay is stopping a
   * first attempt still goes (shutdown's own bounces must reach their senders)
   * but nothing is retried: RelayStoppingError, and a durable link keeps it.
   */
  deliverLocal(el: XmlElement): Promise<void> {
    const p = this.deliverWithRetries(el);
    this.delivering.add(p);
    const done = (): void => void this.delivering.delete(p);
    p.then(done, done);
    return p;
  }

  private async deliverWithRetries(el: XmlElement): Promise<void> {
    const deadline = Date.now() + (this.settings.s2sTimeouts?.queueMs ?? 600_000);
    let delay = 1000;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping && attempt > 0) throw new RelayStoppingError();
      try {
        await this.s2s.send(el);
        return;
      } catch (err) {
        if (this.stopping) throw new RelayStoppingError(err as Error);
        if (!(err instanceof StanzaError) || !RETRYABLE.has(err.condition) || Date.now() + delay > deadline) throw err;
        this.lastError = `local delivery to ${el.attr('to')}: ${err.condition}`;
        this.metrics.inc('local_delivery_retries_total', { condition: err.condition });
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.sleepers.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, delay);
          this.sleepers.add(wake);
        });
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /**
   * Waits for local deliveries in progress, the bounces of stopped links among
   * them. Each is bounded by the S2S connect and auth timeouts; this wait too.
   */
  private async settleLocal(): Promise<void> {
    const t = { ...DEFAULT_TIMEOUTS, ...this.settings.s2sTimeouts };
    const deadline = Date.now() + t.connectMs + t.authMs;
    while (this.delivering.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.log.warn({ pending: this.delivering.size }, 'stopping with local deliveries still unconfirmed');
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.delivering]), new Promise<void>((r) => (timer = setTimeout(r, left)))]);
      clearTimeout(timer);
    }
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
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    // Links first: what they cannot carry is bounced to local senders, and
    // those bounces are written to the local servers before S2S closes.
    for (const link of this.links) await link.stop();
    await this.settleLocal();
    await this.s2s.stop('system-shutdown');
    this.view.stop();
    await this.obs?.close();
    await this.opts.onStop?.();
    this.log.info('relay stopped');
  }
}

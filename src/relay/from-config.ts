/** Builds a Relay from a validated site file. */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SiteConfig, LinkConfig } from '../config/index.ts';
import { parseHostPort, s2sAdmission, s2sTimeoutsMs, reconnectMs, SITE_DEFAULTS, linkBearers, bearerName, bearerDownAfterS, bearerProbeS } from '../config/index.ts';
import { Xep0361Link } from '../link/xep0361/link.ts';
import { ConstrainedLink } from '../link/constrained/index.ts';
import { transportDriver, type ConstrainedTransport, type DriverFactory } from '../link/drivers/index.ts';
import { multiBearerDriver, type BearerDef } from '../link/bearers/index.ts';
import type { LinkTuning } from '../link/core/index.ts';
import { Spool } from '../spool/index.ts';
import { bearerRttMs, readKeyFile } from '../config/index.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import { PolicyHook } from '../policy/index.ts';
import { LabelHook, labelsConfigured, type LabelSettings } from '../policy/labels/index.ts';
import { buildOptimizeHooks } from '../optimize/index.ts';
import type { RelayLink } from '../link/port.ts';
import { Relay, type RelaySettings } from './relay.ts';
import { bearerMetering, linkScheduler } from './metered-link.ts';
import type { Metering } from '../link/metered/index.ts';
import type { StanzaHook } from './router.ts';

/** A secret kept in data_dir across restarts (dialback keys must stay verifiable). */
export function persistentSecret(dataDir: string, name: string): Buffer {
  const file = join(dataDir, name);
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('hex') + '\n', { mode: 0o600 });
  return secret;
}

export function relaySettings(cfg: SiteConfig): RelaySettings {
  mkdirSync(cfg.data_dir, { recursive: true });
  return {
    site: cfg.site,
    localDomains: cfg.local.domains,
    listen: cfg.local.listen,
    directTlsListen: cfg.local.direct_tls_listen,
    routes: cfg.local.routes,
    dnsServers: cfg.s2s.dns_servers.length ? cfg.s2s.dns_servers : undefined,
    tls: {
      certDir: join(cfg.data_dir, 'certs'),
      cert: cfg.local.tls.cert ?? undefined,
      key: cfg.local.tls.key ?? undefined,
      require: cfg.local.tls.require,
      ca: cfg.trust.anchors.map((f) => readFileSync(f, 'utf8')),
    },
    trust: cfg.trust,
    dialbackSecret: persistentSecret(cfg.data_dir, 'dialback.secret'),
    maxStanzaBytes: cfg.limits.max_stanza_bytes,
    metricsListen: cfg.metrics.listen ? parseHostPort(cfg.metrics.listen) : undefined,
    s2sTimeouts: s2sTimeoutsMs(cfg.s2s, cfg.limits),
    s2sAdmission: s2sAdmission(cfg.s2s),
    deliveryWindow: cfg.local.delivery_window,
    metricsLimits: {
      maxConnections: cfg.metrics.max_connections,
      maxConnectionsPerAddress: cfg.metrics.max_connections_per_address,
      idleTimeoutMs: cfg.metrics.idle_timeout_s * 1000,
      requestTimeoutMs: cfg.metrics.request_timeout_s * 1000,
    },
  };
}

/** The link core's tuning from a link's profile and the site limits. */
export function linkTuning(cfg: SiteConfig, link: Pick<LinkConfig, 'profileConfig' | 'tuning' | 'peer'>): LinkTuning {
  const b = link.profileConfig.bearer;
  const t = link.tuning;
  return {
    mtu: b.mtu,
    frameBytes: t.frame_bytes,
    windowFrames: Math.min(t.window_frames, t.max_frames_in_flight),
    rateBps: b.rate_bps,
    rttEstimateMs: bearerRttMs(b),
    rtoMinMs: t.rto_min_ms,
    rtoMaxMs: t.rto_max_ms,
    ackDelayMs: t.ack_delay_ms,
    // The end with peer keeps its NAT mapping open: one idle keepalive (and hold probe) cadence, the shorter.
    keepaliveS: link.peer && t.nat_keepalive_s !== undefined ? Math.min(t.keepalive_s, t.nat_keepalive_s) : t.keepalive_s,
    compressionLevel: t.compression_level,
    maxStanzaBytes: cfg.limits.max_stanza_bytes,
    coalesceDelayMs: t.coalesce_delay_ms,
    linkDownAfterS: t.link_down_after_s,
    probeIntervalMs: t.probe_interval_ms,
  };
}

/**
 * A spooled link's driver and its core's tuning: one transport, or several
 * bearers under one core (link/bearers; the core starts on the primary's
 * tuning and takes frames as large as the largest bearer mtu).
 */
function linkDriver(cfg: SiteConfig, link: LinkConfig, metering?: Metering): { driver: DriverFactory; tuning: LinkTuning } {
  const reconnect = reconnectMs(link.reconnect);
  const bearers = linkBearers(link);
  if (bearers.length === 1) return { driver: transportDriver(transportOf(link), reconnect), tuning: linkTuning(cfg, link) };
  const receiveMtu = Math.max(...bearers.map((b) => b.profileConfig.bearer.mtu));
  const defs: BearerDef[] = bearers.map((b, i) => ({
    name: bearerName(i, b),
    profile: b.profile,
    transport: b.transport,
    driver: transportDriver(transportOf(b), reconnect),
    tuning: { ...linkTuning(cfg, b), receiveMtu },
    downAfterMs: bearerDownAfterS(b.tuning) * 1000,
    probeMs: bearerProbeS(b) * 1000,
  }));
  const holdDownMs = (link.failback_hold_s ?? SITE_DEFAULTS.link.failback_hold_s) * 1000;
  return { driver: multiBearerDriver({ bearers: defs, holdDownMs, ...bearerMetering(bearers, metering) }), tuning: defs[0].tuning };
}

function transportOf(link: Pick<LinkConfig, 'transport' | 'bind' | 'peer' | 'device' | 'baud'> & { name?: string }): ConstrainedTransport {
  switch (link.transport) {
    case 'udp':
      return { kind: 'udp', bind: link.bind!, peer: link.peer ?? undefined };
    case 'tcp':
      return { kind: 'tcp', bind: link.bind ?? undefined, peer: link.peer ?? undefined };
    case 'serial':
      return { kind: 'serial', device: link.device!, baud: link.baud ?? 9600 };
    default:
      throw new Error(`link ${link.name ?? ''}: ${link.transport} is not a constrained transport`);
  }
}

export function buildLink(cfg: SiteConfig, link: LinkConfig, deps: { logger: Logger; metrics: Metrics; spool?: Spool }): RelayLink {
  switch (link.transport) {
    case 'xep0361':
      return new Xep0361Link({
        name: link.name,
        domains: link.domains,
        bind: link.bind ? parseHostPort(link.bind) : undefined,
        peer: link.peer ? parseHostPort(link.peer) : undefined,
        maxStanzaBytes: cfg.limits.max_stanza_bytes,
        heldTimeoutMs: cfg.limits.held_stanza_timeout_s * 1000,
        acks: link.acks ?? true,
        tls: link.tls
          ? { certPem: readFileSync(link.tls.cert, 'utf8'), keyPem: readFileSync(link.tls.key, 'utf8'), peerFingerprint: link.tls.peer_fingerprint ?? undefined }
          : undefined,
        backoff: { minMs: link.reconnect.min_s * 1000, maxMs: link.reconnect.max_s * 1000 },
        logger: deps.logger,
        metrics: deps.metrics,
      });
    default:
      if (!deps.spool) throw new Error(`link ${link.name}: a spool is needed for transport ${link.transport}`);
      const scheduling = linkScheduler(cfg, link, { logger: deps.logger, metrics: deps.metrics });
      return new ConstrainedLink({
        name: link.name,
        domains: link.domains,
        localDomains: cfg.local.domains,
        ...linkDriver(cfg, link, scheduling.metering),
        key: readKeyFile(link.key_file!).key,
        keyId: link.keyId ?? undefined,
        role: link.role,
        spool: deps.spool,
        ...scheduling,
        heldTimeoutMs: cfg.limits.held_stanza_timeout_s * 1000,
        maxStanzaBytes: cfg.limits.max_stanza_bytes,
        logger: deps.logger,
        metrics: deps.metrics,
        stateFile: join(cfg.data_dir, 'link-state', `${link.name}.json`),
      });
  }
}

/** Where a spooled link keeps its own spool: data_dir/spool/<link name>/ (hub mode: one per ship). */
export function linkSpoolDir(cfg: SiteConfig, link: LinkConfig): string {
  return join(cfg.data_dir, 'spool', link.name);
}

/** The data_dir holds a spool shared by several links (layout before per-link spools) that cannot be split safely. */
export class LegacySpoolError extends Error {
  readonly code = 'SPOOL_LEGACY_LAYOUT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'LegacySpoolError';
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Before per-link spools, every spooled link shared data_dir/spool/{data.mdb,lock.mdb}.
 * Records and sequence state are keyed by link name, so the shared file is each
 * link's spool plus other links' keys:
 *  - one spooled link: the file moves to spool/<link>/ (nothing lost);
 *  - several, drained (no stanza held): a copy goes to each link's directory, so
 *    every link keeps its ids and dedup state (the partner still has its own);
 *  - several, stanzas still held: LegacySpoolError (splitting them needs the
 *    previous version to drain the spool first).
 * The shared file is kept as data_dir/spool-shared.mdb.migrated after a copy.
 */
export function migrateLegacySpool(cfg: SiteConfig, links: LinkConfig[], log: Logger): void {
  const root = join(cfg.data_dir, 'spool');
  const legacy = join(root, 'data.mdb');
  if (!isFile(legacy) || links.length === 0) return;
  const targets = links.map((l) => linkSpoolDir(cfg, l));
  const taken = targets.find((d) => isFile(join(d, 'data.mdb')));
  if (taken) {
    throw new LegacySpoolError(
      `${root} holds both a shared spool (data.mdb, from a satrelay before per-link spools) and a per-link spool ${taken}; ` +
        `move the one that is not in use out of data_dir`,
    );
  }
  if (links.length === 1) {
    mkdirSync(targets[0], { recursive: true });
    renameSync(legacy, join(targets[0], 'data.mdb'));
    rmSync(join(root, 'lock.mdb'), { force: true });
    log.warn({ from: root, to: targets[0], link: links[0].name }, 'moved the shared spool of a previous version to the link\'s own spool directory');
    return;
  }
  const shared = Spool.open(root, { maxBytes: Number.MAX_SAFE_INTEGER, maxStanzas: Number.MAX_SAFE_INTEGER });
  let held: { outbound: number; inbound: number };
  try {
    const st = shared.stats();
    held = { outbound: st.outboundCount, inbound: st.inboundCount };
  } finally {
    void shared.close();
  }
  if (held.outbound > 0 || held.inbound > 0) {
    const err = new LegacySpoolError(
      `${root} is a spool shared by all links (satrelay before per-link spools) and still holds ${held.outbound} outbound and ${held.inbound} inbound stanza(s); ` +
        `this site has ${links.length} spooled links (${links.map((l) => l.name).join(', ')}), each now with its own spool under ${root}/<link>/. ` +
        `Run the previous version until every link's spool is empty (satrelay status: spool 0), then start this version: a drained shared spool is split automatically`,
    );
    log.error({ err: err.message, code: err.code }, 'refusing to start on a shared spool that still holds stanzas');
    throw err;
  }
  for (const d of targets) {
    mkdirSync(d, { recursive: true });
    copyFileSync(legacy, join(d, 'data.mdb'));
  }
  const kept = join(cfg.data_dir, 'spool-shared.mdb.migrated');
  renameSync(legacy, kept);
  rmSync(join(root, 'lock.mdb'), { force: true });
  log.warn({ from: root, links: links.map((l) => l.name), kept }, 'split the drained shared spool of a previous version into one spool per link');
}

/** One spool per spooled link (udp, serial, tcp), with that link's limits and a link label on its gauges. */
export function openLinkSpools(cfg: SiteConfig, deps: { logger: Logger; metrics: Metrics }): Map<string, Spool> {
  const spooled = cfg.links.filter((l) => l.transport !== 'xep0361');
  migrateLegacySpool(cfg, spooled, deps.logger);
  const spools = new Map<string, Spool>();
  try {
    for (const l of spooled) {
      const dir = linkSpoolDir(cfg, l);
      mkdirSync(dir, { recursive: true });
      // A start before the spool fixed lmdb's layout took a name with a dot for a file and left its lock file beside the directory.
      if (isFile(`${dir}-lock`)) rmSync(`${dir}-lock`);
      const limits = l.limits ?? { spool_max_bytes: cfg.limits.spool_max_bytes, spool_max_stanzas: cfg.limits.spool_max_stanzas };
      spools.set(
        l.name,
        Spool.open(dir, { maxBytes: limits.spool_max_bytes, maxStanzas: limits.spool_max_stanzas, metrics: deps.metrics, logger: deps.logger, labels: { link: l.name } }),
      );
    }
  } catch (err) {
    for (const s of spools.values()) void s.close();
    throw err;
  }
  return spools;
}

/** The XEP-0258 label filter, when a clearance or an equivalence table is configured. */
function labelHooks(cfg: SiteConfig, deps: { logger: Logger; metrics: Metrics }): StanzaHook[] {
  const settings: LabelSettings = {
    local: cfg.local.clearance,
    links: Object.fromEntries(cfg.links.map((l) => [l.name, { clearance: l.clearance, equivalence: l.equivalence }])),
  };
  return labelsConfigured(settings) ? [new LabelHook(settings, deps)] : [];
}

export function buildRelay(cfg: SiteConfig, opts: { logger?: Logger; metrics?: Metrics }): Relay {
  // Every line of this relay names its site, once (the field `site`).
  const base = opts.logger ?? silentLogger;
  const deps = { logger: 'site' in base.bindings() ? base : base.child({ site: cfg.site }), metrics: opts.metrics };
  const metrics = deps.metrics ?? new Metrics({ site: cfg.site }, { processMetrics: true });
  mkdirSync(cfg.data_dir, { recursive: true });
  const spools = openLinkSpools(cfg, { logger: deps.logger, metrics });
  const links = cfg.links.map((l) => buildLink(cfg, l, { logger: deps.logger, metrics, spool: spools.get(l.name) }));
  // Policy first: refused stanzas never reach a cache or a fold.
  const optimize = buildOptimizeHooks({
    presence: cfg.optimize.presence,
    discoCache: cfg.optimize.disco_cache,
    fanout: cfg.optimize.fanout,
    dataDir: cfg.data_dir,
    metrics,
    logger: deps.logger,
  });
  const hooks: StanzaHook[] = [
    new PolicyHook(
      { allow: cfg.policy.allow, block: cfg.policy.block, blockNamespaces: cfg.policy.block_namespaces, drop: cfg.optimize.drop },
      { logger: deps.logger, metrics },
    ),
    ...labelHooks(cfg, { logger: deps.logger, metrics }),
    ...optimize.hooks,
  ];
  return new Relay(relaySettings(cfg), links, {
    logger: deps.logger,
    metrics,
    hooks,
    onStop: async () => {
      await optimize.close();
      await Promise.all([...spools.values()].map((s) => s.close()));
    },
  });
}

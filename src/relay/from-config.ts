/** Builds a Relay from a validated site file. */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SiteConfig, LinkConfig } from '../config/index.ts';
import { parseHostPort } from '../config/index.ts';
import { Xep0361Link } from '../link/xep0361/link.ts';
import { ConstrainedLink, type ConstrainedTransport } from '../link/constrained/link.ts';
import type { LinkTuning } from '../link/core/index.ts';
import { Spool } from '../spool/index.ts';
import { bearerRttMs, readKeyFile } from '../config/index.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import { PolicyHook } from '../policy/index.ts';
import { buildOptimizeHooks, queueOptionsFor } from '../optimize/index.ts';
import type { RelayLink } from './link.ts';
import { Relay, type RelaySettings } from './relay.ts';
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
    tls: { certDir: join(cfg.data_dir, 'certs'), cert: cfg.local.tls.cert ?? undefined, key: cfg.local.tls.key ?? undefined, require: cfg.local.tls.require },
    dialbackSecret: persistentSecret(cfg.data_dir, 'dialback.secret'),
    maxStanzaBytes: cfg.limits.max_stanza_bytes,
    metricsListen: cfg.metrics.listen ? parseHostPort(cfg.metrics.listen) : undefined,
    s2sTimeouts: {
      connectMs: cfg.s2s.connect_timeout_s * 1000,
      authMs: cfg.s2s.auth_timeout_s * 1000,
      idleMs: cfg.s2s.idle_timeout_s * 1000,
      queueMs: cfg.limits.held_stanza_timeout_s * 1000,
    },
  };
}

/** The link core's tuning from a link's profile and the site limits. */
export function linkTuning(cfg: SiteConfig, link: LinkConfig): LinkTuning {
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
    keepaliveS: t.keepalive_s,
    compressionLevel: t.compression_level,
    maxStanzaBytes: cfg.limits.max_stanza_bytes,
  };
}

function transportOf(link: LinkConfig): ConstrainedTransport {
  switch (link.transport) {
    case 'udp':
      return { kind: 'udp', bind: link.bind!, peer: link.peer! };
    case 'tcp':
      return { kind: 'tcp', bind: link.bind ?? undefined, peer: link.peer ?? undefined };
    case 'serial':
      return { kind: 'serial', device: link.device!, baud: link.baud ?? 9600 };
    default:
      throw new Error(`link ${link.name}: ${link.transport} is not a constrained transport`);
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
      return new ConstrainedLink({
        name: link.name,
        domains: link.domains,
        localDomains: cfg.local.domains,
        transport: transportOf(link),
        tuning: linkTuning(cfg, link),
        key: readKeyFile(link.key_file!).key,
        keyId: link.keyId ?? undefined,
        reconnect: { minMs: link.reconnect.min_s * 1000, maxMs: link.reconnect.max_s * 1000 },
        spool: deps.spool,
        heldTimeoutMs: cfg.limits.held_stanza_timeout_s * 1000,
        maxStanzaBytes: cfg.limits.max_stanza_bytes,
        queue: queueOptionsFor(cfg.optimize),
        logger: deps.logger,
        metrics: deps.metrics,
      });
  }
}

export function buildRelay(cfg: SiteConfig, opts: { logger?: Logger; metrics?: Metrics }): Relay {
  const deps = { logger: opts.logger ?? silentLogger, metrics: opts.metrics };
  const metrics = deps.metrics ?? new Metrics({ site: cfg.site });
  mkdirSync(cfg.data_dir, { recursive: true });
  const spool = cfg.links.some((l) => l.transport !== 'xep0361')
    ? Spool.open(join(cfg.data_dir, 'spool'), { maxBytes: cfg.limits.spool_max_bytes, maxStanzas: cfg.limits.spool_max_stanzas, metrics, logger: deps.logger })
    : undefined;
  const links = cfg.links.map((l) => buildLink(cfg, l, { logger: deps.logger, metrics, spool }));
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
    ...optimize.hooks,
  ];
  return new Relay(relaySettings(cfg), links, {
    logger: deps.logger,
    metrics,
    hooks,
    onStop: async () => {
      await optimize.close();
      await spool?.close();
    },
  });
}

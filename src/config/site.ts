/**
 * The site file: schema (keys of DESIGN.md "Site file" plus defaults),
 * cross-field rules, path resolution, profile and key file checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { clearanceSchema, equivalenceSchema, type ClearanceConfig, type EquivalenceConfig } from './clearance.ts';
import { ConfigError, sortIssues, type ConfigIssue } from './errors.ts';
import { effectiveTrust, trustCrossChecks, trustSchema, type TrustConfig } from './trust.ts';
import { formatHostPort, hostPortSchema, parseHostPort } from './hostport.ts';
import { KeyFileError, readKeyFile } from './keyfile.ts';
import { linkRuleIssues } from './link-rules.ts';
import {
  checkTuning,
  isProfilePath,
  loadProfileFile,
  resolveProfileFile,
  resolveTuning,
  tuningSchema,
  type ProfileConfig,
  type TuningProfile,
} from './profile.ts';
import { YamlSource, describe, formatPath, zodIssues, type PathSeg } from './source.ts';
import { metricsLimitKeys, s2sLimitKeys, type MetricsLimitsConfig, type S2SLimitsConfig } from './limits.ts';

export const TRANSPORTS = ['udp', 'serial', 'tcp', 'xep0361'] as const;
export type Transport = (typeof TRANSPORTS)[number];
/** Payload classes optimize/policy may drop (policy/ DropClass). */
export const DROP_CLASSES = ['chatstates', 'xhtml'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// ---- value schemas ------------------------------------------------------------

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
function isDomain(s: string): boolean {
  return s.length <= 253 && s.split('.').every((l) => LABEL.test(l));
}

/** A literal domain, lower-cased. */
const domain = z
  .string()
  .transform((s) => s.toLowerCase())
  .superRefine((s, ctx) => {
    if (!isDomain(s)) ctx.addIssue({ code: 'custom', message: `expected a domain name like "a.example", got ${JSON.stringify(s)}` });
  });

/** A remote domain pattern: "b.example", "*.b.example" or "*" (all others). */
const domainPattern = z
  .string()
  .transform((s) => s.toLowerCase())
  .superRefine((s, ctx) => {
    if (s === '*' || isDomain(s) || (s.startsWith('*.') && isDomain(s.slice(2)))) return;
    ctx.addIssue({ code: 'custom', message: `expected a domain, "*.domain" or "*", got ${JSON.stringify(s)}` });
  });

const hostPort = hostPortSchema;

const pathString = z.string().min(1);
/** A link name: also a directory name (data_dir/spool/<name>), so not "." or "..". */
const linkName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, ".", "_" or "-"')
  .refine((s) => s !== '.' && s !== '..', 'expected a name other than "." or ".." (it names the link\'s spool directory)');
const posNum = () => z.number().finite().positive();
const posInt = () => z.number().int().positive();

// ---- site schema ----------------------------------------------------------------

/** Per-link spool limits (udp, serial, tcp); each defaults to the site's `limits:` value. */
const linkLimitsSchema = z
  .object({
    spool_max_bytes: posInt().optional(),
    spool_max_stanzas: posInt().optional(),
  })
  .strict();

const linkSchema = z
  .object({
    name: linkName,
    domains: z.array(domainPattern).min(1),
    profile: z.string().min(1),
    transport: z.enum(TRANSPORTS),
    bind: hostPort().optional(),
    peer: hostPort({ needPort: true }).optional(),
    device: pathString.optional(),
    baud: posInt().optional(),
    key_file: pathString.optional(),
    role: z.enum(['a', 'b']).optional(),
    acks: z.boolean().optional(),
    tls: z
      .object({
        cert: pathString,
        key: pathString,
        peer_fingerprint: z
          .string()
          .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'expected a SHA-256 certificate fingerprint like "AB:CD:…" (32 hex pairs)')
          .optional(),
      })
      .strict()
      .optional(),
    reconnect: z
      .object({ min_s: posNum().default(1), max_s: posNum().default(60) })
      .strict()
      .default({}),
    tuning: tuningSchema.default({}),
    limits: linkLimitsSchema.optional(),
    clearance: clearanceSchema.nullable().default(null),
    equivalence: equivalenceSchema,
  })
  .strict();

const siteSchema = z
  .object({
    site: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, ".", "_" or "-"'),
    data_dir: pathString.default('data'),
    local: z
      .object({
        domains: z.array(domain).min(1),
        listen: z.array(hostPort()).default(['0.0.0.0:5269']),
        direct_tls_listen: z.array(hostPort()).default([]),
        routes: z.record(domain, hostPort({ defaultPort: 5269, needPort: true })).default({}),
        tls: z
          .object({
            cert: pathString.nullable().default(null),
            key: pathString.nullable().default(null),
            require: z.boolean().default(false),
          })
          .strict()
          .default({}),
        clearance: clearanceSchema.nullable().default(null),
      })
      .strict(),
    links: z.array(linkSchema).min(1),
    optimize: z
      .object({
        presence: z.enum(['coalesce', 'fold', 'off']).default('coalesce'),
        disco_cache: z.boolean().default(true),
        fanout: z.boolean().default(true),
        drop: z.array(z.enum(DROP_CLASSES)).default([]),
      })
      .strict()
      .default({}),
    policy: z
      .object({
        allow: z.array(domainPattern).default(['*']),
        block: z.array(domainPattern).default([]),
        block_namespaces: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
    metrics: z
      .object({ listen: hostPort().nullable().default('127.0.0.1:9105'), ...metricsLimitKeys })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(LOG_LEVELS).default('info') })
      .strict()
      .default({}),
    limits: z
      .object({
        max_stanza_bytes: posInt().default(262_144),
        held_stanza_timeout_s: posNum().default(600),
        spool_max_bytes: posInt().default(256 * 1024 * 1024),
        spool_max_stanzas: posInt().default(100_000),
      })
      .strict()
      .default({}),
    s2s: z
      .object({
        connect_timeout_s: posNum().default(30),
        auth_timeout_s: posNum().default(30),
        idle_timeout_s: posNum().default(600),
        dialback: z.boolean().default(true),
        sasl_external: z.boolean().default(true),
        dns_servers: z.array(hostPort({ defaultPort: 53, needPort: true })).default([]),
        ...s2sLimitKeys,
      })
      .strict()
      .default({}),
    trust: trustSchema,
  })
  .strict();

// ---- types ------------------------------------------------------------------------

export interface LinkConfig {
  name: string;
  /** remote domain patterns, lower-cased: "b.example", "*.b.example", "*" */
  domains: string[];
  /** a shipped profile's name, or the absolute path of a profile file */
  profile: string;
  transport: Transport;
  /** null when not given / not used by the transport */
  bind: string | null;
  peer: string | null;
  /** serial only (absolute path) */
  device: string | null;
  /** serial only (default 9600) */
  baud: number | null;
  /** absolute path; null only for xep0361 without a key */
  key_file: string | null;
  /** spooled transports: this end's role on the link (`a` or `b`, the opposite of the partner's); null: derived from the domains */
  role: 'a' | 'b' | null;
  /** xep0361 only: satrelay resend-and-dedup acks (off for other XEP-0361 implementations) */
  acks: boolean | null;
  /** xep0361 only: TLS on the link, with the partner's certificate pinned */
  tls: { cert: string; key: string; peer_fingerprint: string | null } | null;
  reconnect: { min_s: number; max_s: number };
  /** spooled transports (udp, serial, tcp): this link's own spool caps (site `limits:` by default); null for xep0361 */
  limits: { spool_max_bytes: number; spool_max_stanzas: number } | null;
  /** effective tuning: the profile's, with this link's `tuning:` keys on top, the rest computed */
  tuning: TuningProfile;
  /** XEP-0258 labels that may cross to this link (null: not checked), and label rewrites to the partner's policies */
  clearance: ClearanceConfig | null;
  equivalence: EquivalenceConfig;
  /** derived: the profile as loaded (not a site-file key) */
  profileConfig: ProfileConfig;
  /** derived: id of the key in key_file, when it was read (not a site-file key) */
  keyId: string | null;
}

export interface SiteConfig {
  site: string;
  /** absolute */
  data_dir: string;
  local: {
    domains: string[];
    listen: string[];
    direct_tls_listen: string[];
    routes: Record<string, string>;
    tls: { cert: string | null; key: string | null; require: boolean };
    clearance: ClearanceConfig | null; // XEP-0258 labels deliverable here
  };
  links: LinkConfig[];
  optimize: { presence: 'coalesce' | 'fold' | 'off'; disco_cache: boolean; fanout: boolean; drop: Array<(typeof DROP_CLASSES)[number]> };
  policy: { allow: string[]; block: string[]; block_namespaces: string[] };
  metrics: { listen: string | null } & MetricsLimitsConfig;
  log: { level: (typeof LOG_LEVELS)[number] };
  limits: { max_stanza_bytes: number; held_stanza_timeout_s: number; spool_max_bytes: number; spool_max_stanzas: number };
  s2s: {
    connect_timeout_s: number;
    auth_timeout_s: number;
    idle_timeout_s: number;
    dialback: boolean;
    sasl_external: boolean;
    dns_servers: string[];
  } & S2SLimitsConfig;
  trust: TrustConfig; // per S2S peer domain (trust.ts)
  /** derived: absolute path of the site file it came from (not a site-file key) */
  sourceFile: string;
}

export interface LoadOptions {
  /** read and check every key_file (default true); off, keyId stays null */
  checkKeyFiles?: boolean;
  /** key file warnings (e.g. permissions) go here */
  onWarning?: (msg: string) => void;
}

// ---- loading ------------------------------------------------------------------------

/** Reads and validates a site file. Throws ConfigError with every issue found. */
export function loadSiteConfig(file: string, opts: LoadOptions = {}): SiteConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([{ file, path: '', message: e.code === 'ENOENT' ? 'site file not found' : `cannot read site file: ${e.message}` }]);
  }
  return parseSiteConfig(text, file, opts);
}

/** Validates site-file text; `file` names it in errors and anchors relative paths. Throws ConfigError. */
export function parseSiteConfig(text: string, file: string, opts: LoadOptions = {}): SiteConfig {
  const parsed = YamlSource.parse(text, file);
  if (!parsed.src) throw new ConfigError(parsed.issues);
  const src = parsed.src;
  const baseDir = dirname(resolve(file));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

  const issues: ConfigIssue[] = [];
  if (src.data === null || typeof src.data !== 'object' || Array.isArray(src.data)) {
    throw new ConfigError([src.issue([], `expected a mapping of site keys (site, local, links, ...), got ${describe(src.data)}`)]);
  }
  const res = siteSchema.safeParse(src.data);
  if (!res.success) issues.push(...zodIssues(siteSchema, res.error, src));
  issues.push(...crossChecks(src), ...trustCrossChecks(src, abs), ...linkRuleIssues(src));
  // Certificate files must exist now, not when the first local server connects.
  const certPaths: PathSeg[][] = [['local', 'tls', 'cert'], ['local', 'tls', 'key']];
  const rawLinksForTls = Array.isArray(src.get(['links'])) ? (src.get(['links']) as unknown[]) : [];
  rawLinksForTls.forEach((_, i) => certPaths.push(['links', i, 'tls', 'cert'], ['links', i, 'tls', 'key']));
  for (const path of certPaths) {
    const v = src.get(path);
    if (typeof v === 'string' && v.length > 0 && !existsSync(abs(v))) issues.push(src.issue(path, `file not found: ${abs(v)}`));
  }

  // profiles and key files, link by link, from the raw data (so their issues join the others)
  const rawLinks = Array.isArray(src.get(['links'])) ? (src.get(['links']) as unknown[]) : [];
  const profiles: Array<{ profile: ProfileConfig; tuning: TuningProfile; name: string } | undefined> = [];
  const keyIds: Array<string | null> = [];
  rawLinks.forEach((_, i) => {
    const ref = src.get(['links', i, 'profile']);
    if (typeof ref === 'string' && ref !== '') {
      const where = resolveProfileFile(ref, baseDir);
      if ('error' in where) issues.push(src.issue(['links', i, 'profile'], where.error));
      else {
        const { loaded, issues: pIssues } = loadProfileFile(where.file);
        if (!loaded) {
          issues.push(src.issue(['links', i, 'profile'], `profile ${JSON.stringify(ref)} is invalid (see ${pIssues[0]?.file ?? where.file})`));
          issues.push(...pIssues);
        } else {
          const overrides = tuningSchema.safeParse(src.get(['links', i, 'tuning']) ?? {});
          if (overrides.success) {
            const tuning = resolveTuning(loaded.profile.bearer, { ...loaded.tuningGiven, ...overrides.data });
            checkTuning(loaded.profile.bearer, tuning, (key, msg) => {
              const path: PathSeg[] = key in overrides.data ? ['links', i, 'tuning', key] : ['links', i, 'profile'];
              issues.push(src.issue(path, `${path.at(-1) === 'profile' ? `tuning.${key}: ` : ''}${msg}`));
            });
            profiles[i] = { profile: loaded.profile, tuning, name: isProfilePath(ref) ? where.file : ref };
          }
        }
      }
    }
    keyIds[i] = null;
    const kf = src.get(['links', i, 'key_file']);
    if (opts.checkKeyFiles !== false && typeof kf === 'string' && kf !== '') {
      try {
        const k = readKeyFile(abs(kf));
        keyIds[i] = k.id;
        for (const w of k.warnings) opts.onWarning?.(w);
      } catch (err) {
        if (!(err instanceof KeyFileError)) throw err;
        issues.push(src.issue(['links', i, 'key_file'], err.message));
      }
    }
  });

  if (issues.length > 0 || !res.success) throw new ConfigError(dedupe(sortIssues(issues)));
  const d = res.data;
  return {
    site: d.site,
    data_dir: abs(d.data_dir),
    local: {
      ...d.local,
      tls: { cert: d.local.tls.cert && abs(d.local.tls.cert), key: d.local.tls.key && abs(d.local.tls.key), require: d.local.tls.require },
    },
    links: d.links.map((l, i): LinkConfig => {
      const p = profiles[i]!;
      return {
        name: l.name,
        domains: l.domains,
        profile: p.name,
        transport: l.transport,
        bind: l.bind ?? null,
        peer: l.peer ?? null,
        device: l.device === undefined ? null : abs(l.device),
        baud: l.transport === 'serial' ? (l.baud ?? 9600) : null,
        key_file: l.key_file === undefined ? null : abs(l.key_file),
        role: l.role ?? null,
        acks: l.transport === 'xep0361' ? (l.acks ?? true) : null,
        tls: l.tls ? { cert: abs(l.tls.cert), key: abs(l.tls.key), peer_fingerprint: l.tls.peer_fingerprint?.toUpperCase() ?? null } : null,
        reconnect: l.reconnect,
        limits:
          l.transport === 'xep0361'
            ? null
            : {
                spool_max_bytes: l.limits?.spool_max_bytes ?? d.limits.spool_max_bytes,
                spool_max_stanzas: l.limits?.spool_max_stanzas ?? d.limits.spool_max_stanzas,
              },
        tuning: p.tuning,
        clearance: l.clearance,
        equivalence: l.equivalence,
        profileConfig: p.profile,
        keyId: keyIds[i],
      };
    }),
    optimize: d.optimize,
    policy: d.policy,
    metrics: d.metrics,
    log: d.log,
    limits: d.limits,
    s2s: d.s2s,
    trust: effectiveTrust(d.trust, d.local.tls.require, abs),
    sourceFile: resolve(file),
  };
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.file}|${i.line}|${i.col}|${i.path}|${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Matches a lower-cased pattern against a literal domain ("*" is "all others", so it never overlaps). */
function patternCovers(pattern: string, dom: string): boolean {
  if (pattern.startsWith('*.')) return dom.endsWith(pattern.slice(1));
  return pattern === dom;
}

/** Rules that span keys, on the raw data (so they are reported alongside schema issues). */
function crossChecks(src: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const str = (path: PathSeg[]) => {
    const v = src.get(path);
    return typeof v === 'string' ? v : undefined;
  };
  const has = (path: PathSeg[]) => src.get(path) !== undefined && src.get(path) !== null;
  const strList = (path: PathSeg[]) => {
    const v = src.get(path);
    return Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x.toLowerCase() : undefined)) : [];
  };

  // local.tls: cert and key go together
  if (has(['local', 'tls', 'cert']) !== has(['local', 'tls', 'key'])) {
    const missing = has(['local', 'tls', 'cert']) ? 'key' : 'cert';
    out.push(src.issue(['local', 'tls', missing], `missing (expected ${missing} together with ${missing === 'key' ? 'cert' : 'key'})`));
  }

  out.push(...addressClashes(src));

  const localDomains = strList(['local', 'domains']);
  const links = src.get(['links']);
  if (!Array.isArray(links)) return out;
  const names = new Map<string, number>();
  const patterns = new Map<string, number>();
  const devices = new Map<string, number>();
  links.forEach((_, i) => {
    const L = (...rest: PathSeg[]): PathSeg[] => ['links', i, ...rest];
    const t = str(L('transport'));
    const name = str(L('name'));
    if (name !== undefined) {
      // Case-insensitive: the name is a spool directory, and some file systems fold case.
      const prev = names.get(name.toLowerCase());
      const prevName = prev === undefined ? undefined : str(['links', prev, 'name']);
      if (prev === undefined) names.set(name.toLowerCase(), i);
      else if (prevName === name) out.push(src.issue(L('name'), `duplicate link name ${JSON.stringify(name)} (also links[${prev}])`));
      else out.push(src.issue(L('name'), `expected a link name that differs from links[${prev}] ${JSON.stringify(prevName)} by more than case (each names a spool directory)`));
    }
    if (t === 'udp' || t === 'tcp' || t === 'xep0361') {
      if (!has(L('bind')) && !has(L('peer'))) out.push(src.issue(L('transport'), `transport ${t} needs ${t === 'udp' ? 'bind (and peer on the end that can reach the other: the ship behind NAT; the end without peer learns it)' : 'bind or peer (or both)'}`));
      for (const k of ['device', 'baud']) if (has(L(k))) out.push(src.issue(L(k), `not used by transport ${t} (serial only)`, 'key'));
    } else if (t === 'serial') {
      if (!has(L('device'))) out.push(src.issue(L('transport'), 'transport serial needs device (e.g. /dev/ttyUSB0)'));
      for (const k of ['bind', 'peer']) if (has(L(k))) out.push(src.issue(L(k), `not used by transport serial (udp, tcp, xep0361 only)`, 'key'));
      const dev = str(L('device'));
      if (dev !== undefined) {
        const prev = devices.get(dev);
        if (prev !== undefined) out.push(src.issue(L('device'), `device already used by links[${prev}]; expected one serial device per link`));
        else devices.set(dev, i);
      }
    }
    if (t === 'xep0361' && has(L('limits'))) {
      out.push(src.issue(L('limits'), 'only used by spooled transports (udp, serial, tcp); xep0361 keeps no spool', 'key'));
    }
    if (t !== 'xep0361') {
      for (const k of ['acks', 'tls']) if (has(L(k))) out.push(src.issue(L(k), `only used by transport xep0361 (the udp, serial and tcp link encrypts with key_file)`, 'key'));
    }
    if (t === 'xep0361' && has(L('role'))) out.push(src.issue(L('role'), 'only used by spooled transports (udp, serial, tcp)', 'key'));
    if (t !== 'xep0361' && !has(L('role')) && strList(L('domains')).every((p) => p === undefined || p === '*')) {
      out.push(src.issue(L('domains'), `with only "*" the two ends cannot agree who is role a; expected role: a here and role: b at the partner (or the reverse)`));
    }
    if ((t === 'udp' || t === 'tcp' || t === 'serial') && !has(L('key_file'))) {
      out.push(src.issue(L('transport'), `transport ${t} needs key_file (the pre-shared link key; make one with "satrelay keygen")`));
    }
    strList(L('domains')).forEach((p, j) => {
      if (p === undefined) return;
      localDomains.forEach((ld, k) => {
        if (ld !== undefined && patternCovers(p, ld)) {
          out.push(src.issue(L('domains', j), `${JSON.stringify(p)} overlaps local.domains[${k}] ${JSON.stringify(ld)}; a domain is either local or remote`));
        }
      });
      const prev = patterns.get(p);
      if (prev !== undefined && prev !== i) out.push(src.issue(L('domains', j), `${JSON.stringify(p)} is already routed by links[${prev}]`));
      else patterns.set(p, i);
    });
    const min = src.get(L('reconnect', 'min_s'));
    const max = src.get(L('reconnect', 'max_s'));
    const effMin = typeof min === 'number' ? min : 1;
    const effMax = typeof max === 'number' ? max : 60;
    if (effMin > effMax) out.push(src.issue(L('reconnect', typeof min === 'number' ? 'min_s' : 'max_s'), `expected min_s <= max_s, got min_s ${effMin} > max_s ${effMax}`));
  });
  return out;
}

/**
 * Two listeners on one port (port 0 aside) cannot both bind: same host, or
 * either on the wildcard address. TCP listeners and UDP binds are separate spaces.
 */
function addressClashes(src: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const spaces: Record<'tcp' | 'udp', Array<{ path: PathSeg[]; host: string; port: number }>> = { tcp: [], udp: [] };
  const add = (space: 'tcp' | 'udp', path: PathSeg[], fallback?: string) => {
    const v = src.get(path) === undefined ? fallback : src.get(path);
    if (typeof v !== 'string') return;
    let hp: { host: string; port: number };
    try {
      hp = parseHostPort(v);
    } catch {
      return; // reported by the schema
    }
    if (hp.port === 0) return;
    const wild = (h: string) => h === '0.0.0.0' || h === '::';
    const prev = spaces[space].find((a) => a.port === hp.port && (a.host === hp.host || wild(a.host) || wild(hp.host)));
    if (prev) out.push(src.issue(path, `${formatHostPort(hp)} clashes with ${formatPath(prev.path)} (${formatHostPort(prev)}): both cannot listen`));
    spaces[space].push({ path, ...hp });
  };
  // defaults count too: local.listen ["0.0.0.0:5269"], metrics.listen "127.0.0.1:9105"
  const listen = src.get(['local', 'listen']);
  if (listen === undefined) add('tcp', ['local', 'listen', 0], '0.0.0.0:5269');
  for (const key of ['listen', 'direct_tls_listen']) {
    const list = src.get(['local', key]);
    if (Array.isArray(list)) list.forEach((_, i) => add('tcp', ['local', key, i]));
  }
  add('tcp', ['metrics', 'listen'], '127.0.0.1:9105');
  const links = src.get(['links']);
  if (Array.isArray(links)) {
    links.forEach((_, i) => {
      const t = src.get(['links', i, 'transport']);
      if (t === 'udp') add('udp', ['links', i, 'bind']);
      else if (t === 'tcp' || t === 'xep0361') add('tcp', ['links', i, 'bind']);
    });
  }
  return out;
}

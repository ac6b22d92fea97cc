/**
 * The site file: read, validated and filled in. One concern per file:
 * site-schema.ts (keys, types, defaults from defaults.ts), site-checks.ts
 * (rules across keys), site-files.ts (paths, certificate, profile and key
 * files), site-types.ts (the SiteConfig it gives). Every issue found, from
 * all of them, comes out in one ConfigError, in file order.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, sortIssues, type ConfigIssue } from './errors.ts';
import { SITE_DEFAULTS } from './defaults.ts';
import { linkRuleIssues } from './link-rules.ts';
import { meteredIssues } from './metered.ts';
import { bearerIssues, type BearerConfig } from './bearers.ts';
import { crossChecks } from './site-checks.ts';
import { certFileIssues, loadLinkFiles, pathResolver } from './site-files.ts';
import { siteSchema } from './site-schema.ts';
import type { LinkConfig, LoadOptions, SiteConfig } from './site-types.ts';
import { effectiveTrust, trustCrossChecks } from './trust.ts';
import { YamlSource, describe, zodIssues } from './source.ts';

export { TRANSPORTS, DROP_CLASSES, LOG_LEVELS, type Transport } from './site-schema.ts';
export type { LinkConfig, SiteConfig, LoadOptions } from './site-types.ts';

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
  const where = pathResolver(file);
  const { abs } = where;

  const issues: ConfigIssue[] = [];
  if (src.data === null || typeof src.data !== 'object' || Array.isArray(src.data)) {
    throw new ConfigError([src.issue([], `expected a mapping of site keys (site, local, links, ...), got ${describe(src.data)}`)]);
  }
  const res = siteSchema.safeParse(src.data);
  if (!res.success) issues.push(...zodIssues(siteSchema, res.error, src));
  issues.push(...crossChecks(src), ...trustCrossChecks(src, abs), ...linkRuleIssues(src), ...bearerIssues(src), ...certFileIssues(src, abs));
  const { profiles, bearerProfiles, keyIds, issues: fileIssues } = loadLinkFiles(src, where, opts);
  issues.push(...fileIssues);
  issues.push(...meteredIssues(src, profiles));

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
      const bearers: BearerConfig[] | null = l.bearers
        ? l.bearers.map((b, j): BearerConfig => {
            const p = bearerProfiles[i]![j]!;
            return {
              profile: p.name,
              transport: b.transport,
              bind: b.bind ?? null,
              peer: b.peer ?? null,
              device: b.device === undefined ? null : abs(b.device),
              baud: b.transport === 'serial' ? (b.baud ?? SITE_DEFAULTS.link.baud) : null,
              tuning: p.tuning,
              metered: b.metered === undefined ? (p.profile.metered ?? null) : b.metered,
              profileConfig: p.profile,
            };
          })
        : null;
      const p = bearers ? { name: bearers[0].profile, tuning: bearers[0].tuning, profile: bearers[0].profileConfig } : profiles[i]!;
      const first = bearers?.[0];
      const transport = first?.transport ?? l.transport!;
      return {
        name: l.name,
        domains: l.domains,
        profile: p.name,
        transport,
        bind: first ? first.bind : (l.bind ?? null),
        peer: first ? first.peer : (l.peer ?? null),
        device: first ? first.device : l.device === undefined ? null : abs(l.device),
        baud: first ? first.baud : transport === 'serial' ? (l.baud ?? SITE_DEFAULTS.link.baud) : null,
        key_file: l.key_file === undefined ? null : abs(l.key_file),
        role: l.role ?? null,
        acks: transport === 'xep0361' ? (l.acks ?? SITE_DEFAULTS.link.acks) : null,
        tls: l.tls ? { cert: abs(l.tls.cert), key: abs(l.tls.key), peer_fingerprint: l.tls.peer_fingerprint?.toUpperCase() ?? null } : null,
        reconnect: l.reconnect,
        limits:
          transport === 'xep0361'
            ? null
            : {
                spool_max_bytes: l.limits?.spool_max_bytes ?? d.limits.spool_max_bytes,
                spool_max_stanzas: l.limits?.spool_max_stanzas ?? d.limits.spool_max_stanzas,
              },
        tuning: p.tuning,
        metered: first ? first.metered : l.metered === undefined ? (p.profile.metered ?? null) : l.metered,
        clearance: l.clearance,
        equivalence: l.equivalence,
        profileConfig: p.profile,
        bearers,
        failback_hold_s: bearers ? (l.failback_hold_s ?? SITE_DEFAULTS.link.failback_hold_s) : null,
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

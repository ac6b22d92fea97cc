/**
 * The site file's schema: the keys of DESIGN.md "Site file", their types and
 * their defaults (defaults.ts). Cross-field rules are in site-checks.ts.
 */
import { z } from 'zod';
import { clearanceSchema, equivalenceSchema } from './clearance.ts';
import { DNS_PORT, S2S_PORT, SITE_DEFAULTS as D } from './defaults.ts';
import { hostPortSchema as hostPort } from './hostport-schema.ts';
import { metricsLimitKeys, s2sLimitKeys } from './limits.ts';
import { meteredSchema, urgentSchema } from './metered.ts';
import { tuningSchema } from './profile.ts';
import { trustSchema } from './trust.ts';

export const TRANSPORTS = ['udp', 'serial', 'tcp', 'xep0361'] as const;
export type Transport = (typeof TRANSPORTS)[number];
/** Payload classes optimize/policy may drop (policy/ DropClass). */
export const DROP_CLASSES = ['chatstates', 'xhtml'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const PRESENCE_MODES = ['coalesce', 'fold', 'off'] as const;

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

/** Transports a bearer of a link with several may use (xep0361 keeps no spool, so no shared ledger). */
export const BEARER_TRANSPORTS = ['udp', 'serial', 'tcp'] as const;

/** One bearer of links[].bearers: its own transport settings and profile. */
const bearerEntrySchema = z
  .object({
    profile: z.string().min(1),
    transport: z.enum(BEARER_TRANSPORTS),
    bind: hostPort().optional(),
    peer: hostPort({ needPort: true }).optional(),
    device: pathString.optional(),
    baud: posInt().optional(),
    tuning: tuningSchema.default({}),
    metered: meteredSchema.nullable().optional(),
  })
  .strict();

const linkSchema = z
  .object({
    name: linkName,
    domains: z.array(domainPattern).min(1),
    // Both required unless bearers is given (config/bearers.ts checks which).
    profile: z.string().min(1).optional(),
    transport: z.enum(TRANSPORTS).optional(),
    bearers: z.array(bearerEntrySchema).min(1).optional(),
    failback_hold_s: posNum().optional(),
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
      .object({ min_s: posNum().default(D.link.reconnect.min_s), max_s: posNum().default(D.link.reconnect.max_s) })
      .strict()
      .default({}),
    tuning: tuningSchema.default({}),
    metered: meteredSchema.nullable().optional(),
    limits: linkLimitsSchema.optional(),
    clearance: clearanceSchema.nullable().default(null),
    equivalence: equivalenceSchema,
  })
  .strict();

export const siteSchema = z
  .object({
    site: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, ".", "_" or "-"'),
    data_dir: pathString.default(D.data_dir),
    local: z
      .object({
        domains: z.array(domain).min(1),
        listen: z.array(hostPort()).default([...D.local.listen]),
        direct_tls_listen: z.array(hostPort()).default([]),
        routes: z.record(domain, hostPort({ defaultPort: S2S_PORT, needPort: true })).default({}),
        tls: z
          .object({
            cert: pathString.nullable().default(null),
            key: pathString.nullable().default(null),
            require: z.boolean().default(D.local.tls_require),
          })
          .strict()
          .default({}),
        clearance: clearanceSchema.nullable().default(null),
        delivery_window: posInt().max(D.local.delivery_window_max).default(D.local.delivery_window),
      })
      .strict(),
    links: z.array(linkSchema).min(1),
    optimize: z
      .object({
        presence: z.enum(PRESENCE_MODES).default(D.optimize.presence),
        disco_cache: z.boolean().default(D.optimize.disco_cache),
        fanout: z.boolean().default(D.optimize.fanout),
        drop: z.array(z.enum(DROP_CLASSES)).default([]),
      })
      .strict()
      .default({}),
    policy: z
      .object({
        allow: z.array(domainPattern).default([...D.policy.allow]),
        block: z.array(domainPattern).default([]),
        block_namespaces: z.array(z.string().min(1)).default([]),
        urgent: urgentSchema.default({}),
      })
      .strict()
      .default({}),
    metrics: z
      .object({ listen: hostPort().nullable().default(D.metrics.listen), ...metricsLimitKeys })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(LOG_LEVELS).default(D.log.level) })
      .strict()
      .default({}),
    limits: z
      .object({
        max_stanza_bytes: posInt().default(D.limits.max_stanza_bytes),
        held_stanza_timeout_s: posNum().default(D.limits.held_stanza_timeout_s),
        spool_max_bytes: posInt().default(D.limits.spool_max_bytes),
        spool_max_stanzas: posInt().default(D.limits.spool_max_stanzas),
      })
      .strict()
      .default({}),
    s2s: z
      .object({
        connect_timeout_s: posNum().default(D.s2s.connect_timeout_s),
        auth_timeout_s: posNum().default(D.s2s.auth_timeout_s),
        idle_timeout_s: posNum().default(D.s2s.idle_timeout_s),
        dialback: z.boolean().default(D.s2s.dialback),
        sasl_external: z.boolean().default(D.s2s.sasl_external),
        dns_servers: z.array(hostPort({ defaultPort: DNS_PORT, needPort: true })).default([]),
        ...s2sLimitKeys,
      })
      .strict()
      .default({}),
    trust: trustSchema,
  })
  .strict();

export type ParsedSite = z.infer<typeof siteSchema>;

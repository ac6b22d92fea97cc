/**
 * Site-file key `trust:`: how much the relay trusts the XMPP servers it has
 * S2S sessions with (its local servers), per domain pattern: TLS required,
 * lowest TLS version, a trusted certificate (PKIX against the system store
 * plus `anchors`, or DANE, RFC 7671/7673), dialback without one, and static
 * SRV, A and TLSA records. The effective rules always end with a "*" rule.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { ConfigIssue } from './errors.ts';
import { DNS_PORT, S2S_PORT } from './defaults.ts';
import { hostPortSchema } from './hostport-schema.ts';
import type { YamlSource } from './source.ts';

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export const DANE_MODES = ['off', 'on', 'required'] as const;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$/;
const isName = (s: string): boolean => s.length <= 253 && s.split('.').every((l) => LABEL.test(l));
const pattern = z
  .string()
  .transform((s) => s.toLowerCase())
  .refine((s) => s === '*' || isName(s) || (s.startsWith('*.') && isName(s.slice(2))), (s) => ({ message: `expected a domain, "*.domain" or "*", got ${JSON.stringify(s)}` }));
const hostName = z
  .string()
  .transform((s) => s.toLowerCase().replace(/\.$/, ''))
  .refine(isName, (s) => ({ message: `expected a host name, got ${JSON.stringify(s)}` }));

/** RFC 6698 §2.2 presentation form "usage selector matching-type hex", canonicalised. */
const tlsa = z.string().transform((s, ctx) => {
  const m = /^\s*(\d{1,3})\s+(\d{1,3})\s+(\d{1,3})\s+([0-9a-fA-F\s]+)$/.exec(s);
  const hex = m?.[4].replace(/\s+/g, '').toLowerCase() ?? '';
  const [u, sel, mt] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  const len = { 1: 64, 2: 128 }[mt];
  if (!m || hex.length % 2 !== 0 || hex.length === 0) {
    ctx.addIssue({ code: 'custom', message: `expected a TLSA record "usage selector matching-type hex" like "3 1 1 4a5b...", got ${JSON.stringify(s)}` });
  } else if (![2, 3].includes(u) || ![0, 1].includes(sel) || ![0, 1, 2].includes(mt)) {
    ctx.addIssue({ code: 'custom', message: `expected usage 2 (DANE-TA) or 3 (DANE-EE), selector 0 or 1, matching type 0, 1 or 2, got ${u} ${sel} ${mt}` });
  } else if (len !== undefined && hex.length !== len) {
    ctx.addIssue({ code: 'custom', message: `expected ${len / 2} bytes of ${mt === 1 ? 'SHA-256' : 'SHA-512'} (${len} hex digits), got ${hex.length}` });
  } else return `${u} ${sel} ${mt} ${hex}`;
  return z.NEVER;
});

const dnsServer = hostPortSchema({ defaultPort: DNS_PORT, needPort: true, ipOnly: true });

const srvRecord = z
  .object({
    target: hostName,
    port: z.number().int().min(1).max(65535).default(S2S_PORT),
    priority: z.number().int().min(0).max(65535).default(0),
    weight: z.number().int().min(0).max(65535).default(0),
    direct_tls: z.boolean().default(false),
  })
  .strict();

const ruleSchema = z
  .object({
    domains: z.array(pattern).min(1),
    tls: z.enum(['required', 'optional']).optional(),
    min_tls_version: z.enum(TLS_VERSIONS).default('TLSv1.2'),
    require_trusted_cert: z.boolean().default(false),
    dialback_without_trusted_cert: z.boolean().default(true),
    dane: z.enum(DANE_MODES).optional(),
    srv: z.array(srvRecord).default([]),
    a: z.record(hostName, z.array(z.string().refine((s) => isIP(s) !== 0, (s) => ({ message: `expected an IPv4 or IPv6 address, got ${JSON.stringify(s)}` }))).min(1)).default({}),
    tlsa: z.array(tlsa).default([]),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.dane === 'off' && r.tlsa.length > 0) ctx.addIssue({ code: 'custom', path: ['tlsa'], message: 'expected no tlsa records with dane: off (they would never be used)' });
  });

export const trustSchema = z
  .object({
    /** PEM files of extra trust anchors, beside Node's root store */
    anchors: z.array(z.string().min(1)).default([]),
    dnssec: z
      .object({
        servers: z.array(dnsServer).default([]),
        trusted: z.boolean().default(false),
      })
      .strict()
      .default({}),
    rules: z.array(ruleSchema).default([]),
  })
  .strict()
  .default({});

/**
 * On the raw data, so they are reported beside schema issues: anchors must be
 * readable PEM certificates (run loads them), a domain pattern has one rule.
 */
export function trustCrossChecks(src: YamlSource, abs: (p: string) => string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const anchors = src.get(['trust', 'anchors']);
  if (Array.isArray(anchors)) {
    anchors.forEach((a, i) => {
      if (typeof a !== 'string' || a === '') return;
      const why = pemProblem(abs(a));
      if (why) out.push(src.issue(['trust', 'anchors', i], why));
    });
  }
  const rules = src.get(['trust', 'rules']);
  if (!Array.isArray(rules)) return out;
  const seen = new Map<string, number>();
  rules.forEach((_, i) => {
    const doms = src.get(['trust', 'rules', i, 'domains']);
    if (!Array.isArray(doms)) return;
    doms.forEach((d, j) => {
      if (typeof d !== 'string') return;
      const prev = seen.get(d.toLowerCase());
      if (prev !== undefined && prev !== i) out.push(src.issue(['trust', 'rules', i, 'domains', j], `${JSON.stringify(d)} already has a rule (rules[${prev}])`));
      else seen.set(d.toLowerCase(), i);
    });
  });
  return out;
}

function pemProblem(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(err as Error).message}`;
  }
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (certs.length === 0) return `expected PEM certificates in ${file}, found none`;
  for (const c of certs) {
    try {
      new X509Certificate(c);
    } catch (err) {
      return `expected PEM certificates in ${file}: ${(err as Error).message}`;
    }
  }
  return undefined;
}

export type TrustRuleConfig = Omit<z.infer<typeof ruleSchema>, 'tls' | 'dane'> & { tls: 'required' | 'optional'; dane: (typeof DANE_MODES)[number] };
export interface TrustConfig {
  anchors: string[];
  dnssec: { servers: string[]; trusted: boolean };
  rules: TrustRuleConfig[];
}

/**
 * Effective rules: unset tls follows local.tls.require, unset dane is
 * "required" when TLSA records are pinned and "off" otherwise, anchors are
 * absolute; a "*" rule (from local.tls.require) closes the list.
 */
export function effectiveTrust(t: z.infer<typeof trustSchema>, tlsRequire: boolean, abs: (p: string) => string): TrustConfig {
  const tlsDefault = tlsRequire ? 'required' : 'optional';
  // one key order, so that `check` prints every rule alike
  const rule = (r: z.infer<typeof ruleSchema>): TrustRuleConfig => ({
    domains: r.domains,
    tls: r.tls ?? tlsDefault,
    min_tls_version: r.min_tls_version,
    require_trusted_cert: r.require_trusted_cert,
    dialback_without_trusted_cert: r.dialback_without_trusted_cert,
    dane: r.dane ?? (r.tlsa.length ? 'required' : 'off'),
    srv: r.srv,
    a: r.a,
    tlsa: r.tlsa,
  });
  const rules = t.rules.map(rule);
  if (!rules.some((r) => r.domains.includes('*'))) rules.push(rule(ruleSchema.parse({ domains: ['*'] })));
  return { anchors: t.anchors.map(abs), dnssec: t.dnssec, rules };
}

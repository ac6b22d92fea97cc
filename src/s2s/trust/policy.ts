/**
 * Per-domain trust toward the S2S peers (the local servers): which rule
 * covers a domain, where to connect (with DANE state, see dns/secure.ts),
 * and the verdict on a peer once TLS is up: TLS version, DANE (RFC 7671/7673),
 * PKIX (chain + RFC 6125 identity, socket.authorized), and whether dialback
 * without a trusted certificate is accepted.
 */
import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';
import { parseHostPort } from '../../config/hostport.ts';
import { DNS_PORT } from '../../config/defaults.ts';
import { findRoute, resolveS2S, type ResolverOptions, type Target } from '../dns/index.ts';
import { resolveSecure, type TlsaLookup } from '../dns/secure.ts';
import { tlsaText, type WireServer } from '../dns/wire.ts';
import { certDigests, daneVerify, usableRecords } from './dane.ts';

export interface TrustRule {
  domains: string[];
  tls: 'required' | 'optional';
  min_tls_version: 'TLSv1.2' | 'TLSv1.3';
  require_trusted_cert: boolean;
  dialback_without_trusted_cert: boolean;
  dane: 'off' | 'on' | 'required';
  srv: Array<{ target: string; port: number; priority: number; weight: number; direct_tls: boolean }>;
  a: Record<string, string[]>;
  tlsa: string[];
}

export interface TrustSettings {
  rules: TrustRule[];
  dnssec: { servers: string[]; trusted: boolean };
}

/** A connection target, with what DANE says about it when the rule looked. */
export type ConnectTarget = Target & { tlsa?: TlsaLookup };

/** How the peer's certificate was verified, if it was. */
export type PeerCert = 'pkix' | 'dane';

export type Verdict = { ok: true; peerCert?: PeerCert } | { ok: false; reason: string; text: string };

/** The rule when nothing is configured: TLS as local.tls.require says, everything else permissive. */
export function defaultRule(tlsRequired: boolean): TrustRule {
  return { domains: ['*'], tls: tlsRequired ? 'required' : 'optional', min_tls_version: 'TLSv1.2', require_trusted_cert: false, dialback_without_trusted_cert: true, dane: 'off', srv: [], a: {}, tlsa: [] };
}

const LOOPBACK = (h: string): boolean => h === '::1' || h.startsWith('127.');
const VERSION_RANK: Record<string, number> = { 'TLSv1': 1, 'TLSv1.1': 2, 'TLSv1.2': 3, 'TLSv1.3': 4 };

/** A DNS server "ip", "ip:port", "[v6]:port" or a bare IPv6 address; port 53 when none is given. */
function parseServer(s: string): WireServer {
  if (isIP(s) === 6) return { host: s, port: DNS_PORT };
  try {
    return parseHostPort(s, DNS_PORT);
  } catch {
    return { host: s, port: DNS_PORT }; // dropped below: not an IP address
  }
}

export class TrustPolicy {
  private readonly rules: TrustRule[];
  private readonly servers: WireServer[];
  /** RFC 6840 §5.9: the AD bit only from a resolver on loopback, or one the operator vouches for */
  readonly adTrusted: boolean;

  constructor(settings: TrustSettings, opts: { dnsServers?: string[]; tlsRequired?: boolean } = {}) {
    this.rules = settings.rules.length ? settings.rules : [defaultRule(opts.tlsRequired === true)];
    const list = settings.dnssec.servers.length ? settings.dnssec.servers : opts.dnsServers?.length ? opts.dnsServers : getServers();
    this.servers = list.map(parseServer).filter((s) => isIP(s.host));
    this.adTrusted = settings.dnssec.trusted || (this.servers.length > 0 && this.servers.every((s) => LOOPBACK(s.host)));
  }

  /** The most specific rule: exact domain, then the longest "*.suffix", then "*". */
  ruleFor(domain: string | undefined): TrustRule {
    const d = (domain ?? '').toLowerCase();
    let best: { len: number; rule: TrustRule } | undefined;
    for (const r of this.rules) {
      for (const p of r.domains) {
        if (p === d && d !== '') return r;
        const len = p === '*' ? 0 : p.startsWith('*.') && d.endsWith(p.slice(1)) ? p.length : -1;
        if (len >= 0 && (!best || len > best.len)) best = { len, rule: r };
      }
    }
    return best?.rule ?? this.rules[this.rules.length - 1];
  }

  /** Targets for `domain`: plain resolution, or secure (DANE) resolution when the rule pins records or uses DANE. */
  async resolve(domain: string, base: ResolverOptions): Promise<ConnectTarget[]> {
    const rule = this.ruleFor(domain);
    if (rule.dane === 'off' && rule.srv.length === 0 && Object.keys(rule.a).length === 0) return resolveS2S(domain, base);
    return resolveSecure(domain, {
      servers: this.servers,
      adTrusted: this.adTrusted,
      dane: rule.dane !== 'off',
      pinned: { srv: rule.srv, a: rule.a, tlsa: rule.tlsa },
      route: findRoute(domain, base.routes),
      timeoutMs: base.timeoutMs,
      random: base.random,
      logger: base.logger,
      metrics: base.metrics,
    });
  }

  /** TLS is needed: the rule says so, or the target has usable TLSA records (RFC 7671 §4, no cleartext fallback). */
  tlsRequired(domain: string | undefined, target?: ConnectTarget): boolean {
    const rule = this.ruleFor(domain);
    return rule.tls === 'required' || rule.dane === 'required' || rule.require_trusted_cert || (target?.tlsa?.state === 'secure' && usableRecords(target.tlsa.records).length > 0);
  }

  /** The negotiated TLS version is at least the rule's. */
  checkVersion(socket: TLSSocket, domain: string | undefined): Verdict {
    const min = this.ruleFor(domain).min_tls_version;
    const got = socket.getProtocol() ?? 'unknown';
    if ((VERSION_RANK[got] ?? 0) >= VERSION_RANK[min]) return { ok: true };
    return { ok: false, reason: 'tls_version', text: `TLS version ${got} is below the ${min} required for ${domain}` };
  }

  /** Outbound, right after the TLS handshake: DANE, then PKIX, against the rule. */
  assessOutbound(socket: TLSSocket, domain: string, target: ConnectTarget, log: Logger, metrics: Metrics): Verdict {
    const rule = this.ruleFor(domain);
    const version = this.checkVersion(socket, domain);
    if (!version.ok) return version;
    const chain = peerChain(socket);
    const t = target.tlsa;
    const usable = t?.state === 'secure' ? usableRecords(t.records) : [];
    if (t?.state === 'secure' && usable.length > 0) {
      const r = daneVerify(chain, t.records, { domain, targetName: target.name });
      const fields = { domain, target: `${target.host}:${target.port}`, tlsa_name: t.name, tlsa: t.records.map(tlsaText), pinned: t.pinned, ...(chain[0] ? certDigests(chain[0]) : {}) };
      if (r.ok) {
        metrics.inc('s2s_dane_total', { result: 'match' });
        log.info({ ...fields, matched: r.record, usage: r.usage }, 'peer certificate matches its TLSA record (DANE)');
        return { ok: true, peerCert: 'dane' };
      }
      metrics.inc('s2s_dane_total', { result: 'mismatch' });
      log.warn({ ...fields, reason: r.reason }, 'DANE check failed: peer certificate matches no TLSA record; session refused');
      return { ok: false, reason: 'dane_mismatch', text: `certificate of ${domain} matches no TLSA record at ${t.name} (DANE)` };
    }
    if (rule.dane === 'required') {
      const why = !t ? 'no TLSA lookup' : t.state === 'insecure' ? `TLSA records at ${t.name} are not DNSSEC-validated (no trusted AD bit)` : t.state === 'none' ? t.why : 'only PKIX-TA/PKIX-EE TLSA records';
      metrics.inc('s2s_dane_total', { result: t?.state === 'insecure' ? 'insecure' : 'unavailable' });
      log.warn({ domain, target: `${target.host}:${target.port}`, tlsa_name: t?.name, tlsa: t && 'records' in t ? t.records.map(tlsaText) : [], reason: why, ...(chain[0] ? certDigests(chain[0]) : {}) }, 'DANE required but not usable: session refused');
      return { ok: false, reason: 'dane_required', text: `DANE is required for ${domain}: ${why}` };
    }
    if (t?.state === 'insecure') metrics.inc('s2s_dane_total', { result: 'insecure_ignored' });
    if (socket.authorized) return { ok: true, peerCert: 'pkix' };
    return this.untrusted(rule, domain, String(socket.authorizationError ?? 'certificate not verified'));
  }

  /** Inbound, after TLS: version; the peer's certificate is trusted when PKIX says so. */
  assessInbound(socket: TLSSocket, domain: string | undefined): Verdict {
    const version = this.checkVersion(socket, domain);
    if (!version.ok) return version;
    return { ok: true, peerCert: socket.authorized ? 'pkix' : undefined };
  }

  /** May a peer of `domain` whose certificate is not trusted (or absent) go on, e.g. by dialback? */
  untrustedAllowed(domain: string | undefined, why: string): Verdict {
    return this.untrusted(this.ruleFor(domain), domain ?? '(unknown)', why);
  }

  private untrusted(rule: TrustRule, domain: string, why: string): Verdict {
    if (rule.require_trusted_cert) return { ok: false, reason: 'untrusted_cert', text: `a trusted certificate is required for ${domain} (${why})` };
    if (!rule.dialback_without_trusted_cert) return { ok: false, reason: 'dialback_untrusted', text: `dialback without a trusted certificate is not accepted for ${domain} (${why})` };
    return { ok: true };
  }
}

/** The peer's chain as sent, leaf first (DER). */
export function peerChain(socket: TLSSocket): Buffer[] {
  const out: Buffer[] = [];
  let c = socket.getPeerCertificate(true) as (ReturnType<TLSSocket['getPeerCertificate']> & { issuerCertificate?: unknown }) | undefined;
  const seen = new Set<string>();
  while (c && Buffer.isBuffer(c.raw) && c.raw.length > 0) {
    const k = c.raw.toString('base64');
    if (seen.has(k)) break;
    seen.add(k);
    out.push(c.raw);
    c = c.issuerCertificate as typeof c;
  }
  return out;
}

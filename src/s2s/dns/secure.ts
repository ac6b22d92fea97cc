/**
 * Where to connect, with what DANE says about each target (RFC 7673 §3):
 * SRV (or pinned SRV, or a static route), then the targets' addresses, then
 * TLSA at _port._tcp.target, all through a DNSSEC-validating resolver whose
 * AD bit is believed only when the caller says so (loopback or configured).
 * DANE applies to a target only when its SRV and address records were
 * validated (§3.1, §3.2); a TLSA answer the resolver could not validate
 * (SERVFAIL) means the target must not be used (§3.3).
 */
import { isIP } from 'node:net';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { DEFAULT_S2S_PORT, DnsError, orderSrv, type Srv, type Target } from './resolve.ts';
import { parseTlsaText, queryWire, type DnsAnswer, type QueryType, type TlsaRecord, type WireServer } from './wire.ts';

export type TlsaLookup =
  /** usable for DANE: validated (or pinned) TLSA records */
  | { state: 'secure'; name: string; records: TlsaRecord[]; pinned: boolean }
  /** TLSA records the resolver did not validate (no AD, or AD not trusted) */
  | { state: 'insecure'; name: string; records: TlsaRecord[] }
  /** no DANE for this target: not looked up, insecure SRV/address, or no TLSA */
  | { state: 'none'; name: string; why: string };

export interface DaneTarget extends Target {
  tlsa: TlsaLookup;
}

export interface SecureResolveOptions {
  /** DNSSEC-validating resolvers, tried in order */
  servers: WireServer[];
  /** believe their AD bit */
  adTrusted: boolean;
  /** look TLSA up at all (the rule's dane is not off) */
  dane: boolean;
  /** pinned records: SRV, addresses per host name, TLSA (presentation form) */
  pinned: { srv: Array<{ target: string; port: number; priority: number; weight: number; direct_tls: boolean }>; a: Record<string, string[]>; tlsa: string[] };
  /** a static route (local.routes) for the domain */
  route?: Target;
  timeoutMs?: number;
  random?: () => number;
  logger?: Logger;
  metrics?: Metrics;
}


/** Ordered targets for `domain` with their TLSA state (throws DnsError). */
export async function resolveSecure(domain: string, o: SecureResolveOptions): Promise<DaneTarget[]> {
  const log = o.logger ?? silentLogger;
  const metrics = o.metrics ?? new Metrics();
  const timeoutMs = o.timeoutMs ?? 5000;
  const ask = async (name: string, type: QueryType): Promise<DnsAnswer> => {
    let last: unknown;
    for (const s of o.servers) {
      try {
        const a = await queryWire(s, name, type, Math.max(200, Math.floor(timeoutMs / (2 * o.servers.length))));
        metrics.inc('dns_secure_queries_total', { type, ad: String(a.ad && o.adTrusted) });
        return a;
      } catch (err) {
        last = err;
      }
    }
    throw new DnsError('DNS_TIMEOUT', `no answer for ${name}/${type} from ${o.servers.map((s) => `${s.host}:${s.port}`).join(', ') || 'no resolver'}`, { cause: last });
  };
  const secure = (a: DnsAnswer): boolean => a.ad && o.adTrusted;

  // 1. SRV: a route, pinned records, or DNS (RFC 7673 §3.1)
  let srvs: Srv[];
  let srvSecure: boolean;
  if (o.route) {
    srvs = [{ name: isIP(o.route.host) ? domain : o.route.host, port: o.route.port, priority: 0, weight: 0, directTls: o.route.directTls }];
    srvSecure = true;
  } else if (o.pinned.srv.length) {
    srvs = o.pinned.srv.map((r) => ({ name: r.target, port: r.port, priority: r.priority, weight: r.weight, directTls: r.direct_tls }));
    srvSecure = true;
  } else {
    const [xmpps, xmpp] = await Promise.all([ask(`_xmpps-server._tcp.${domain}`, 'SRV'), ask(`_xmpp-server._tcp.${domain}`, 'SRV')]);
    for (const a of [xmpps, xmpp]) if (a.rcode !== 0 && a.rcode !== 3) throw new DnsError('DNS_FAILURE', `SRV lookup for ${domain} failed (rcode ${a.rcode})`);
    srvs = [...xmpps.srv.map((r) => ({ ...r, directTls: true })), ...xmpp.srv.map((r) => ({ ...r, directTls: false }))].filter((r) => r.name !== '' && r.name !== '.');
    const any = xmpps.srv.length + xmpp.srv.length > 0;
    if (any && srvs.length === 0) throw new DnsError('DNS_SERVICE_UNAVAILABLE', `${domain} publishes no XMPP server-to-server service (SRV target '.')`);
    srvSecure = secure(xmpps) && secure(xmpp);
    if (!any) srvs = [{ name: domain, port: DEFAULT_S2S_PORT, priority: 0, weight: 0, directTls: false }]; // RFC 6120 §3.2.2
  }
  const ordered = orderSrv(srvs, o.random ?? Math.random);

  // 2. addresses (§3.2) and 3. TLSA (§3.3) per target
  const out: DaneTarget[] = [];
  for (const s of ordered) {
    let addrs: string[];
    let addrSecure: boolean;
    if (o.route && isIP(o.route.host)) [addrs, addrSecure] = [[o.route.host], true];
    else if (o.pinned.a[s.name]) [addrs, addrSecure] = [o.pinned.a[s.name], true];
    else if (isIP(s.name)) [addrs, addrSecure] = [[s.name], true];
    else {
      const [a4, a6] = await Promise.all([ask(s.name, 'A'), ask(s.name, 'AAAA')]);
      addrs = [...a4.addresses, ...a6.addresses];
      addrSecure = secure(a4) && secure(a6);
    }
    if (addrs.length === 0) {
      log.debug({ domain, target: s.name }, 'SRV target has no address');
      continue;
    }
    const tlsa = await lookupTlsa(s, srvSecure && addrSecure);
    if (!tlsa) continue;
    for (const host of addrs) out.push({ host, port: s.port, directTls: s.directTls, name: s.name, tlsa });
  }
  if (out.length === 0) throw new DnsError('DNS_NOT_FOUND', `no usable target for ${domain}`);
  return out;

  async function lookupTlsa(s: Srv, chainSecure: boolean): Promise<TlsaLookup | undefined> {
    const name = `_${s.port}._tcp.${s.name}`;
    if (!o.dane) return { state: 'none', name, why: 'DANE is off for this domain' };
    if (o.pinned.tlsa.length) return { state: 'secure', name, records: o.pinned.tlsa.map(parseTlsaText), pinned: true };
    if (!chainSecure) return { state: 'none', name, why: 'SRV or address records are not DNSSEC-validated (RFC 7673 §3.1)' };
    const a = await ask(name, 'TLSA');
    if (a.rcode !== 0 && a.rcode !== 3) {
      // RFC 7673 §3.3: a TLSA answer that cannot be validated: this target is not used
      metrics.inc('s2s_dane_total', { result: 'lookup_failed' });
      log.warn({ domain, tlsa: name, rcode: a.rcode }, 'TLSA lookup failed (bogus or unreachable): target skipped');
      return undefined;
    }
    if (a.tlsa.length === 0) return { state: 'none', name, why: secure(a) ? 'no TLSA records (validated denial)' : 'no TLSA records' };
    return secure(a) ? { state: 'secure', name, records: a.tlsa, pinned: false } : { state: 'insecure', name, records: a.tlsa };
  }
}

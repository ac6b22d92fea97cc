/**
 * s2s/dns — where to connect for a remote XMPP domain.
 *
 * Does: static routes from the site file (exact domain, then the longest
 * '*.suffix', then '*'); else DNS SRV _xmpps-server._tcp (XEP-0368, Direct TLS)
 * and _xmpp-server._tcp merged into one RFC 2782 order (priority, then weighted
 * random with an injectable random source); a '.' target means no service
 * (no A fallback); with no SRV at all, A/AAAA of the domain on port 5269
 * (RFC 6120 §3.2). SRV targets are resolved to addresses with the same
 * resolver, so `servers` (own DNS servers) is honoured end to end.
 *
 * Takes: a domain and ResolverOptions (routes, servers, timeoutMs, random).
 * Gives: Target[] in connection order, or DnsError with code DNS_TIMEOUT,
 * DNS_NOT_FOUND, DNS_SERVICE_UNAVAILABLE, DNS_FAILURE, DNS_BAD_ROUTE or
 * DNS_BAD_DOMAIN. No caching (callers keep sessions open instead).
 * Must not import: sessions, link, optimize, relay (leaf: node:dns, obs/ only).
 */
export {
  resolveS2S,
  parseRoute,
  findRoute,
  orderSrv,
  DnsError,
  DEFAULT_S2S_PORT,
  type Target,
  type ResolverOptions,
  type DnsErrorCode,
} from './resolve.ts';

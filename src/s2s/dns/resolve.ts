/**
 * Where to connect for a remote XMPP domain (RFC 6120 §3.2, XEP-0368, RFC 2782).
 * Order: static route -> SRV _xmpps-server._tcp + _xmpp-server._tcp (one list,
 * priorities and weights mixed, XEP-0368 §3) -> A/AAAA of the domain, port 5269.
 * SRV targets are resolved to addresses with the same resolver, so a caller
 * that passes its own DNS servers never falls back to the system resolver.
 */
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { HostPortError, parseHostPort, type HostPort } from '../../config/hostport.ts';
import { S2S_PORT } from '../../config/defaults.ts';

export interface Target {
  /** address (or host name, for static routes given as names) to connect to */
  host: string;
  port: number;
  /** XEP-0368 Direct TLS: TLS from the first byte, no STARTTLS */
  directTls: boolean;
  /** the DNS name this address came from (SRV target or the domain); for logs */
  name?: string;
}

export interface ResolverOptions {
  /** domain -> 'host:port' | '[v6]:port' | 'host' (port 5269); prefix 'tls:' for Direct TLS. Keys: exact domain, '*.suffix', '*' */
  routes?: Record<string, string>;
  /** DNS servers ('ip' or 'ip:port', '[v6]:port') to use instead of the system's */
  servers?: string[];
  /** overall deadline for the whole resolution (default 10 s) */
  timeoutMs?: number;
  /** attempts per query within the deadline (default 2) */
  tries?: number;
  /** uniform [0,1) source for RFC 2782 weighted order (default Math.random) */
  random?: () => number;
  /** among SRV records of equal priority, order Direct TLS (xmpps) ones first (XEP-0368 allows; default mixed) */
  preferDirectTls?: boolean;
  logger?: Logger;
  metrics?: Metrics;
}

export type DnsErrorCode = 'DNS_TIMEOUT' | 'DNS_NOT_FOUND' | 'DNS_SERVICE_UNAVAILABLE' | 'DNS_FAILURE' | 'DNS_BAD_ROUTE' | 'DNS_BAD_DOMAIN';

export class DnsError extends Error {
  constructor(readonly code: DnsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DnsError';
  }
}

/** RFC 6120 §3.2.1: the xmpp-server port when a route names none. */
export const DEFAULT_S2S_PORT = S2S_PORT;

/** Parses a static route value (throws DnsError DNS_BAD_ROUTE). */
export function parseRoute(value: string): Target {
  let v = value.trim();
  let directTls = false;
  if (v.startsWith('tls:')) {
    directTls = true;
    v = v.slice(4);
  }
  let hp: HostPort;
  try {
    // a bare IPv6 address is a host without a port
    hp = isIP(v) === 6 ? { host: v, port: S2S_PORT } : parseHostPort(v, S2S_PORT);
  } catch (err) {
    if (err instanceof HostPortError) throw new DnsError('DNS_BAD_ROUTE', `bad route ${JSON.stringify(value)}: ${err.message}`);
    throw err;
  }
  const { host, port } = hp;
  if (port === 0) throw new DnsError('DNS_BAD_ROUTE', `bad route ${JSON.stringify(value)}: expected a port number 1-65535, got 0`);
  return { host, port, directTls, name: host };
}

const norm = (d: string): string => (d.endsWith('.') ? d.slice(0, -1) : d).toLowerCase();

/** Static route for `domain`: exact key, then the longest matching '*.suffix', then '*'. */
export function findRoute(domain: string, routes: Record<string, string> | undefined): Target | undefined {
  if (!routes) return undefined;
  const d = norm(domain);
  let best: { len: number; value: string } | undefined;
  for (const [k, value] of Object.entries(routes)) {
    const key = norm(k);
    if (key === d) return parseRoute(value);
    if (key.startsWith('*.') && d.endsWith(key.slice(1)) && (!best || key.length > best.len)) best = { len: key.length, value };
    else if (key === '*' && !best) best = { len: 0, value };
  }
  return best ? parseRoute(best.value) : undefined;
}

export interface Srv {
  name: string;
  port: number;
  priority: number;
  weight: number;
  directTls: boolean;
}

/** RFC 2782 order: ascending priority; within one priority, weighted random selection. */
export function orderSrv<T extends { priority: number; weight: number; directTls?: boolean }>(records: T[], random: () => number = Math.random, preferDirectTls = false): T[] {
  const byPrio = new Map<number, T[]>();
  for (const r of records) {
    const key = preferDirectTls ? r.priority * 2 + (r.directTls ? 0 : 1) : r.priority;
    byPrio.set(key, [...(byPrio.get(key) ?? []), r]);
  }
  const out: T[] = [];
  for (const key of [...byPrio.keys()].sort((a, b) => a - b)) {
    // zero-weight records first, so they have a small chance of being picked first
    const left = [...byPrio.get(key)!].sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1));
    while (left.length) {
      const total = left.reduce((s, r) => s + r.weight, 0);
      const pick = Math.min(total, Math.floor(random() * (total + 1)));
      let run = 0;
      let i = 0;
      for (; i < left.length; i++) {
        run += left[i].weight;
        if (run >= pick) break;
      }
      out.push(left.splice(Math.min(i, left.length - 1), 1)[0]);
    }
  }
  return out;
}

type Answer<T> = { kind: 'ok'; records: T[] } | { kind: 'none' } | { kind: 'error'; error: DnsError };

const NONE_CODES = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);
const TIMEOUT_CODES = new Set(['ETIMEOUT', 'ECANCELLED']);

function classify(name: string, err: unknown): Answer<never> {
  const code = (err as { code?: string }).code ?? '';
  if (NONE_CODES.has(code)) return { kind: 'none' };
  if (TIMEOUT_CODES.has(code)) return { kind: 'error', error: new DnsError('DNS_TIMEOUT', `DNS query for ${name} timed out`, { cause: err }) };
  return { kind: 'error', error: new DnsError('DNS_FAILURE', `DNS query for ${name} failed: ${code || (err as Error).message}`, { cause: err }) };
}

/** Ordered connection targets for remote `domain` (throws DnsError). */
export async function resolveS2S(domain: string, opts: ResolverOptions = {}): Promise<Target[]> {
  const log = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const d = norm(domain);
  if (!d || !/^[a-z0-9_.-]+$/i.test(d) || d.split('.').some((l) => l === '' || l.length > 63)) {
    throw new DnsError('DNS_BAD_DOMAIN', `cannot resolve ${JSON.stringify(domain)}`);
  }
  const route = findRoute(d, opts.routes);
  if (route) {
    metrics.inc('dns_resolutions_total', { via: 'route' });
    return [route];
  }
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tries = Math.max(1, opts.tries ?? 2);
  // Two sequential phases (SRV, then target addresses): each try gets a share
  // of the deadline so one silent query cannot use it all up.
  const resolver = new Resolver({ timeout: Math.max(20, Math.floor(timeoutMs / (2 * tries))), tries });
  if (opts.servers?.length) {
    try {
      resolver.setServers(opts.servers);
    } catch (err) {
      throw new DnsError('DNS_FAILURE', `bad DNS servers ${JSON.stringify(opts.servers)}`, { cause: err });
    }
  }
  // One deadline for everything; cancel() fails outstanding queries with ECANCELLED.
  let expired = false;
  const deadline = setTimeout(() => {
    expired = true;
    resolver.cancel();
  }, timeoutMs);
  const ask = <T>(name: string, q: () => Promise<T[]>): Promise<Answer<T>> =>
    q().then(
      (records): Answer<T> => (records.length ? { kind: 'ok', records } : { kind: 'none' }),
      (err): Answer<T> => classify(name, err),
    );
  const addresses = async (name: string): Promise<Answer<string>> => {
    if (isIP(name)) return { kind: 'ok', records: [name] };
    const [a, aaaa] = await Promise.all([ask(name, () => resolver.resolve4(name)), ask(name, () => resolver.resolve6(name))]);
    const records = [...(a.kind === 'ok' ? a.records : []), ...(aaaa.kind === 'ok' ? aaaa.records : [])];
    if (records.length) return { kind: 'ok', records };
    if (a.kind === 'error') return a;
    if (aaaa.kind === 'error') return aaaa;
    return { kind: 'none' };
  };

  try {
    const services = [
      { name: `_xmpps-server._tcp.${d}`, directTls: true },
      { name: `_xmpp-server._tcp.${d}`, directTls: false },
    ];
    const answers = await Promise.all(services.map((s) => ask(s.name, () => resolver.resolveSrv(s.name))));
    const usable: Srv[] = [];
    let srvInUse = false; // an SRV answer exists (even '.'), so no A/AAAA fallback (XEP-0368 §6)
    let firstError: DnsError | undefined;
    answers.forEach((ans, i) => {
      if (ans.kind === 'error') {
        firstError ??= ans.error;
        return;
      }
      if (ans.kind === 'none') return;
      srvInUse = true;
      // RFC 2782: target '.' = service decidedly not available at this domain
      for (const r of ans.records) {
        if (r.name === '' || r.name === '.') continue;
        usable.push({ name: r.name, port: r.port, priority: r.priority, weight: r.weight, directTls: services[i].directTls });
      }
    });
    if (usable.length === 0) {
      if (firstError) throw firstError;
      if (srvInUse) {
        metrics.inc('dns_failures_total', { code: 'DNS_SERVICE_UNAVAILABLE' });
        throw new DnsError('DNS_SERVICE_UNAVAILABLE', `${d} publishes no XMPP server-to-server service (SRV target '.')`);
      }
      // RFC 6120 §3.2.2: no SRV records -> the domain's own addresses, port 5269.
      const fallback = await addresses(d);
      if (fallback.kind === 'error') throw fallback.error;
      if (fallback.kind === 'none') throw new DnsError('DNS_NOT_FOUND', `no SRV, A or AAAA records for ${d}`);
      metrics.inc('dns_resolutions_total', { via: 'a' });
      return fallback.records.map((host) => ({ host, port: DEFAULT_S2S_PORT, directTls: false, name: d }));
    }
    if (firstError) log.debug({ domain: d, err: firstError.message }, 'one SRV query failed; using the other');
    const ordered = orderSrv(usable, opts.random ?? Math.random, opts.preferDirectTls === true);
    const resolved = await Promise.all(ordered.map((r) => addresses(r.name)));
    const targets: Target[] = [];
    let targetError: DnsError | undefined;
    ordered.forEach((r, i) => {
      const ans = resolved[i];
      if (ans.kind === 'ok') for (const host of ans.records) targets.push({ host, port: r.port, directTls: r.directTls, name: r.name });
      else if (ans.kind === 'error') targetError ??= ans.error;
      else log.debug({ domain: d, target: r.name }, 'SRV target has no address');
    });
    if (targets.length === 0) {
      throw targetError ?? new DnsError('DNS_NOT_FOUND', `SRV targets of ${d} have no addresses`);
    }
    metrics.inc('dns_resolutions_total', { via: 'srv' });
    return targets;
  } catch (err) {
    const e = err instanceof DnsError ? err : new DnsError('DNS_FAILURE', (err as Error).message, { cause: err });
    const final = expired && e.code !== 'DNS_TIMEOUT' && e.code !== 'DNS_NOT_FOUND' ? new DnsError('DNS_TIMEOUT', `resolving ${d} took over ${timeoutMs} ms`, { cause: e }) : e;
    if (final.code !== 'DNS_SERVICE_UNAVAILABLE') metrics.inc('dns_failures_total', { code: final.code });
    throw final;
  } finally {
    clearTimeout(deadline);
  }
}

/**
 * Link rules that make "what check accepts, run runs" hold: combinations in
 * one site file that would crash at start or could never connect. Check sees
 * one end of a link only; what needs both ends (two tcp ends that both dial,
 * two udp ends without peer) shows at run time instead (ConnectWatch, the udp
 * driver's "no partner address yet": a warning and `satrelay status`).
 */
import { SITE_DEFAULTS } from './defaults.ts';
import type { ConfigIssue } from './errors.ts';
import { formatHostPort, parseHostPort } from './hostport.ts';
import { formatPath, type PathSeg, type YamlSource } from './source.ts';

type HostPort = { host: string; port: number };

const WILDCARD = new Set(['0.0.0.0', '::']);
const isLoopback = (h: string): boolean => h === 'localhost' || h === '::1' || h.startsWith('127.');

function addr(src: YamlSource, path: PathSeg[]): HostPort | undefined {
  const v = src.get(path);
  if (typeof v !== 'string') return undefined;
  try {
    return parseHostPort(v);
  } catch {
    return undefined; // reported by the schema
  }
}

/** True when a dial to `peer` would reach a listener on `own` of this same host. */
function sameEndpoint(peer: HostPort, own: HostPort): boolean {
  if (own.port === 0 || peer.port !== own.port) return false;
  return peer.host === own.host || (WILDCARD.has(own.host) && isLoopback(peer.host));
}

/** The domain a role is derived from (link/constrained linkRole): the least, "*.x" read as x, "*" skipped. */
function leastDomain(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined;
  return list
    .filter((d): d is string => typeof d === 'string' && d !== '*')
    .map((d) => d.toLowerCase().replace(/^\*\./, ''))
    .sort()[0];
}

export function linkRuleIssues(src: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const links = src.get(['links']);
  if (!Array.isArray(links)) return out;
  const has = (path: PathSeg[]): boolean => src.get(path) !== undefined && src.get(path) !== null;

  // This relay's own listeners, by socket space: a peer naming one of them is this relay, not its partner.
  const own: Record<'tcp' | 'udp', Array<{ path: PathSeg[]; hp: HostPort }>> = { tcp: [], udp: [] };
  const add = (space: 'tcp' | 'udp', path: PathSeg[], fallback?: string): void => {
    const hp = src.get(path) === undefined && fallback ? parseHostPort(fallback) : addr(src, path);
    if (hp) own[space].push({ path, hp });
  };
  // defaults count too: local.listen, metrics.listen
  if (src.get(['local', 'listen']) === undefined) SITE_DEFAULTS.local.listen.forEach((l, i) => add('tcp', ['local', 'listen', i], l));
  for (const key of ['listen', 'direct_tls_listen']) {
    const list = src.get(['local', key]);
    if (Array.isArray(list)) list.forEach((_, i) => add('tcp', ['local', key, i]));
  }
  add('tcp', ['metrics', 'listen'], SITE_DEFAULTS.metrics.listen);
  links.forEach((_, i) => {
    const t = src.get(['links', i, 'transport']);
    if (t === 'udp') add('udp', ['links', i, 'bind']);
    else if ((t === 'tcp' || t === 'xep0361') && !has(['links', i, 'peer'])) add('tcp', ['links', i, 'bind']);
  });

  const localLeast = leastDomain(src.get(['local', 'domains']));
  links.forEach((_, i) => {
    const L = (...rest: PathSeg[]): PathSeg[] => ['links', i, ...rest];
    const t = src.get(L('transport'));
    const bind = addr(src, L('bind'));
    const peer = addr(src, L('peer'));
    if (t === 'udp') {
      if (!has(L('peer')) && bind?.port === 0) {
        out.push(src.issue(L('bind'), `transport udp without peer listens for its partner, so it needs a fixed port: the partner's peer must name it; set bind: "${bind.host}:5299" (or another free port), or add peer: "HOST:PORT", the partner relay's bind`));
      } else if (!has(L('bind')) && has(L('peer'))) {
        out.push(src.issue(L('peer'), `transport udp needs bind too: the partner's peer must name this end's address and port; add bind: "0.0.0.0:${peer?.port ?? 5299}" (or this host's address on the bearer)`, 'key'));
      }
    }
    if ((t === 'tcp' || t === 'xep0361') && bind && peer && (t === 'xep0361' || bind.port !== 0)) {
      const why = t === 'tcp' ? ' (bind with port 0 only picks the address to dial from)' : '';
      out.push(
        src.issue(
          L('bind'),
          `expected exactly one end of a ${t} link to set peer: with peer set this end only dials ${formatHostPort(peer)} and never listens on ${formatHostPort(bind)}${why}, ` +
            `so a partner written the same way would dial too and the link would never connect. Keep peer here and remove bind (the partner keeps only bind and listens), or keep bind here and remove peer (the partner dials this address)`,
          'key',
        ),
      );
    }
    if (peer && (t === 'udp' || t === 'tcp' || t === 'xep0361')) {
      const self = own[t === 'udp' ? 'udp' : 'tcp'].find((o) => sameEndpoint(peer, o.hp));
      if (self) out.push(src.issue(L('peer'), `${formatHostPort(peer)} is this relay's own ${formatPath(self.path)}; expected the partner relay's address`));
    }
    // Spooled links derive their role from the domains (unless role is set): equal least domains cannot decide it.
    const remoteLeast = leastDomain(src.get(L('domains')));
    if (t !== 'xep0361' && !has(L('role')) && remoteLeast !== undefined && remoteLeast === localLeast) {
      out.push(
        src.issue(
          L('domains'),
          `this end's role cannot be derived: the least local domain and the least of these domains are both ${JSON.stringify(remoteLeast)}; expected role: a here and role: b at the partner (or the reverse)`,
        ),
      );
    }
  });
  return out;
}

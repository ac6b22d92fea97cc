/**
 * Site-file rules that span keys (cert with key, transport needs, duplicate
 * names, domains both local and remote, address clashes), checked on the raw
 * data so that they are reported with the schema's issues, each at its line.
 */
import { SITE_DEFAULTS as D } from './defaults.ts';
import type { ConfigIssue } from './errors.ts';
import { formatHostPort, parseHostPort } from './hostport.ts';
import { formatPath, type PathSeg, type YamlSource } from './source.ts';

/** Matches a lower-cased pattern against a literal domain ("*" is "all others", so it never overlaps). */
function patternCovers(pattern: string, dom: string): boolean {
  if (pattern.startsWith('*.')) return dom.endsWith(pattern.slice(1));
  return pattern === dom;
}

/** Rules that span keys, on the raw data (so they are reported alongside schema issues). */
export function crossChecks(src: YamlSource): ConfigIssue[] {
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
    const effMin = typeof min === 'number' ? min : D.link.reconnect.min_s;
    const effMax = typeof max === 'number' ? max : D.link.reconnect.max_s;
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
  // defaults count too: local.listen, metrics.listen
  const listen = src.get(['local', 'listen']);
  if (listen === undefined) D.local.listen.forEach((l, i) => add('tcp', ['local', 'listen', i], l));
  for (const key of ['listen', 'direct_tls_listen']) {
    const list = src.get(['local', key]);
    if (Array.isArray(list)) list.forEach((_, i) => add('tcp', ['local', key, i]));
  }
  add('tcp', ['metrics', 'listen'], D.metrics.listen);
  const links = src.get(['links']);
  if (Array.isArray(links)) {
    links.forEach((_, i) => {
      const t = src.get(['links', i, 'transport']);
      if (t === 'udp') add('udp', ['links', i, 'bind']);
      else if (t === 'tcp' || t === 'xep0361') add('tcp', ['links', i, 'bind']);
      const bearers = src.get(['links', i, 'bearers']);
      if (Array.isArray(bearers)) bearers.forEach((_, j) => {
        const bt = src.get(['links', i, 'bearers', j, 'transport']);
        if (bt === 'udp' || bt === 'tcp') add(bt, ['links', i, 'bearers', j, 'bind']);
      });
    });
  }
  return out;
}

/**
 * links[].bearers: a link over several bearers, in order of preference
 * (first = primary), each with its own transport settings and profile. The
 * single-bearer keys (profile, transport, bind, peer, device, baud, tuning)
 * stay valid and make a one-bearer list; a link gives one form or the other.
 * Rules here are checked on the raw data (reported with the schema's issues,
 * each at its line); linkBearers() gives the list `run` uses.
 */
import { SITE_DEFAULTS as D } from './defaults.ts';
import type { ConfigIssue } from './errors.ts';
import { formatHostPort, parseHostPort } from './hostport.ts';
import { natKeepaliveBytesPerHour, PROBE_FRAME_BYTES, UDP_IP_BYTES, type ProfileConfig, type TuningProfile } from './profile.ts';
import type { PathSeg, YamlSource } from './source.ts';
import type { MeteredConfig } from './metered.ts';

/** The keys a bearer has of its own; at the link level they form the one-bearer list. */
export const BEARER_KEYS = ['profile', 'transport', 'bind', 'peer', 'device', 'baud', 'tuning', 'metered'] as const;

/** One bearer as `run` uses it (every path absolute, the profile loaded). */
export interface BearerConfig {
  profile: string;
  transport: 'udp' | 'serial' | 'tcp';
  bind: string | null;
  peer: string | null;
  device: string | null;
  baud: number | null;
  /** the profile's tuning with this bearer's `tuning:` keys on top, the rest computed */
  tuning: TuningProfile;
  /** billed per MB: the bearer's `metered:`, else its profile's; null: not metered */
  metered: MeteredConfig | null;
  /** derived: the profile as loaded */
  profileConfig: ProfileConfig;
}

/** What a link config needs for its bearer list. */
type LinkLike = Omit<BearerConfig, 'transport'> & { transport: string; bearers: BearerConfig[] | null };

/** The bearers of a spooled link in order of preference: its list, or its single-bearer keys as one. */
export function linkBearers(l: LinkLike): BearerConfig[] {
  if (l.bearers) return l.bearers;
  const { profile, bind, peer, device, baud, tuning, metered, profileConfig } = l;
  return [{ profile, transport: l.transport as BearerConfig['transport'], bind, peer, device, baud, tuning, metered, profileConfig }];
}

/** A bearer's name in logs, metrics and status: its position (1 = primary) and profile. */
export function bearerName(index: number, b: { profileConfig: ProfileConfig }): string {
  return `${index + 1}:${b.profileConfig.name}`;
}

/** A bearer is declared down after this long without an authentic frame on it: failover_after_s, else link_down_after_s, s. */
export function bearerDownAfterS(t: TuningProfile): number {
  return t.failover_after_s ?? t.link_down_after_s;
}

/**
 * How often a bearer is probed while it carries nothing else, s: three
 * times within its failover_after_s, at most its keepalive (below the NAT
 * timeout on the end with peer, so each bearer's NAT mapping stays open).
 */
export function bearerProbeS(b: Pick<BearerConfig, 'tuning' | 'peer'>): number {
  const t = b.tuning;
  const keep = b.peer && t.nat_keepalive_s !== undefined ? Math.min(t.keepalive_s, t.nat_keepalive_s) : t.keepalive_s;
  return Math.min(keep, Math.round((bearerDownAfterS(t) / 3) * 10) / 10);
}

/** Bytes per hour one end spends probing a bearer that carries nothing else (a probe frame in a UDP datagram). */
export function bearerProbeBytesPerHour(b: Pick<BearerConfig, 'tuning' | 'peer'>): number {
  return Math.ceil(3600 / bearerProbeS(b)) * (PROBE_FRAME_BYTES + UDP_IP_BYTES);
}

/** check's summary of a link's bearers: the effective order, failover and failback, and what probing costs. */
export function bearerLines(l: LinkLike & { failback_hold_s: number | null }, indent: string): string[] {
  if (!l.bearers) return [];
  const where = (b: BearerConfig): string =>
    b.transport === 'serial' ? `serial ${b.device} at ${b.baud} baud` : `${b.transport}${b.bind ? ` on ${b.bind}` : ''}${b.peer ? ` to ${b.peer}` : ' (peer learned)'}`;
  return [
    `${indent}#   bearers in order of preference (the link sends on the best one up):`,
    ...l.bearers.map(
      (b, i) =>
        `${indent}#     ${bearerName(i, b)}: ${where(b)}; declared down after ${bearerDownAfterS(b.tuning)} s silent; ` +
        `probed every ${bearerProbeS(b)} s when idle (<= ${Math.ceil(bearerProbeBytesPerHour(b) / 1024)} KiB per hour per end` +
        `${natKeepaliveBytesPerHour(b.tuning) && b.peer ? ', also keeps its NAT mapping' : ''})`,
    ),
    `${indent}#     failback to a better bearer once it has been up ${l.failback_hold_s ?? D.link.failback_hold_s} s (failback_hold_s)`,
  ];
}

/** Rules of links[].bearers, and of the single-bearer keys' presence. */
export function bearerIssues(src: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const links = src.get(['links']);
  if (!Array.isArray(links)) return out;
  const has = (path: PathSeg[]): boolean => src.get(path) !== undefined && src.get(path) !== null;
  links.forEach((_, i) => {
    const L = (...rest: PathSeg[]): PathSeg[] => ['links', i, ...rest];
    const list = src.get(L('bearers'));
    if (list === undefined || list === null) {
      for (const k of ['profile', 'transport'] as const) {
        if (!has(L(k))) out.push(src.issue(L(k), `missing (expected ${k === 'profile' ? 'a profile name or file' : 'udp, serial, tcp or xep0361'}; or a bearers: list with a ${k} per bearer)`));
      }
      if (has(L('failback_hold_s'))) out.push(src.issue(L('failback_hold_s'), 'only used with bearers: (a link over several bearers)', 'key'));
      return;
    }
    for (const k of BEARER_KEYS) {
      if (has(L(k))) out.push(src.issue(L(k), `not used with bearers: each bearer has its own ${k} (links[${i}].bearers[0].${k} for the primary)`, 'key'));
    }
    if (!Array.isArray(list)) return; // the schema says what was expected
    if (!has(L('key_file'))) out.push(src.issue(L('bearers'), 'a link over bearers needs key_file (the pre-shared link key; make one with "satrelay keygen")'));
    const seen = new Map<string, number>();
    list.forEach((__, j) => out.push(...oneBearer(src, L('bearers', j), seen, j)));
  });
  return out;
}

function oneBearer(src: YamlSource, B: PathSeg[], seen: Map<string, number>, j: number): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (k: string): PathSeg[] => [...B, k];
  const has = (k: string): boolean => src.get(at(k)) !== undefined && src.get(at(k)) !== null;
  const t = src.get(at('transport'));
  const hp = (k: string): { host: string; port: number } | undefined => {
    const v = src.get(at(k));
    if (typeof v !== 'string') return undefined;
    try {
      return parseHostPort(v);
    } catch {
      return undefined; // reported by the schema
    }
  };
  const once = (key: string, path: PathSeg[], what: string): void => {
    const prev = seen.get(key);
    if (prev !== undefined) out.push(src.issue(path, `${what} already used by bearers[${prev}]; expected each bearer on its own`));
    else seen.set(key, j);
  };
  if (t === 'udp' || t === 'tcp') {
    for (const k of ['device', 'baud']) if (has(k)) out.push(src.issue(at(k), `not used by transport ${t} (serial only)`, 'key'));
    const bind = hp('bind');
    const peer = hp('peer');
    if (t === 'udp' && !has('bind')) out.push(src.issue(at('transport'), 'transport udp needs bind (and peer on the end that can reach the other: the ship behind NAT; the end without peer learns it)'));
    if (t === 'udp' && !has('peer') && bind?.port === 0) out.push(src.issue(at('bind'), `transport udp without peer listens for its partner, so it needs a fixed port: the partner's peer must name it; set bind: "${bind.host}:5299" (or another free port)`));
    if (t === 'tcp' && !has('bind') && !has('peer')) out.push(src.issue(at('transport'), 'transport tcp needs bind (listen) or peer (dial)'));
    if (t === 'tcp' && bind && peer && bind.port !== 0) out.push(src.issue(at('bind'), `expected exactly one end of a tcp bearer to set peer: with peer set this end dials ${formatHostPort(peer)} and never listens on ${formatHostPort(bind)}; remove one of them`, 'key'));
  } else if (t === 'serial') {
    if (!has('device')) out.push(src.issue(at('transport'), 'transport serial needs device (e.g. /dev/ttyUSB0)'));
    for (const k of ['bind', 'peer']) if (has(k)) out.push(src.issue(at(k), 'not used by transport serial (udp, tcp only)', 'key'));
    const dev = src.get(at('device'));
    if (typeof dev === 'string') once(`serial:${dev}`, at('device'), `device ${dev}`);
  }
  return out;
}

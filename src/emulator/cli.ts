/**
 * What `satrelay emulate` runs (cli/emulate.ts parses the command line): the
 * bearer from a profile and flags, the mode, seed and stats interval.
 */
import type { BearerParams, Outage } from './engine.ts';
import type { NatParams } from './nat.ts';
import { validateParams } from './engine.ts';
import { EmulatorError } from './errors.ts';
import { loadBearerParams } from './profile.ts';

export interface EmulateSettings {
  params: BearerParams;
  mode: 'udp' | 'tcp' | 'pty';
  seed: number;
  intervalS: number;
  opts: Map<string, string>;
  flags: Set<string>;
}

/**
 * The emulator's settings from `satrelay emulate` options (option name ->
 * value, flags, outages in the order given); the parsing itself is
 * cli/emulate.ts. Throws EmulatorError EMU_BAD_ARGS / EMU_PROFILE / EMU_BAD_PARAMS.
 */
export function emulateSettings(opts: Map<string, string>, flags: Set<string>, outages: Outage[]): EmulateSettings {
  const profile = opts.get('profile');
  const base: Partial<BearerParams> = profile ? { ...loadBearerParams(profile) } : {};
  const p = base as BearerParams;
  const num = (key: string): number | undefined => {
    const v = opts.get(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new EmulatorError('EMU_BAD_ARGS', `--${key}: not a number: "${v}"`);
    return n;
  };
  const rate = opts.get('rate');
  if (rate !== undefined) p.rate_bps = parseRate(rate);
  const set = <K extends keyof BearerParams>(k: K, v: BearerParams[K] | undefined): void => {
    if (v !== undefined) p[k] = v;
  };
  set('delay_ms', num('delay'));
  set('jitter_ms', num('jitter'));
  set('ber', num('ber'));
  set('mtu', num('mtu'));
  set('turnaround_ms', num('turnaround'));
  set('duplicate', num('duplicate'));
  set('reorder', num('reorder'));
  set('queue_bytes', num('queue'));
  set('overhead_bytes', num('overhead'));
  const loss = num('loss');
  if (loss !== undefined) p.loss = { model: 'bernoulli', p: loss };
  const ge = opts.get('ge');
  if (ge !== undefined) {
    const v = ge.split(',').map(Number);
    if (v.length < 2 || v.length > 4 || v.some((n) => !Number.isFinite(n))) throw new EmulatorError('EMU_BAD_ARGS', `--ge: expected P_GB,P_BG[,LOSS_GOOD,LOSS_BAD], got "${ge}"`);
    p.loss = { model: 'gilbert_elliott', p_gb: v[0], p_bg: v[1], ...(v.length > 2 ? { loss_good: v[2] } : {}), ...(v.length > 3 ? { loss_bad: v[3] } : {}) };
  }
  if (flags.has('half-duplex')) p.duplex = 'half';
  const nat = natSettings(opts, num, p.nat_timeout_s);
  if (nat) p.nat = nat;
  if (outages.length > 0) p.outages = [...(p.outages ?? []), ...outages];
  if (p.rate_bps === undefined) throw new EmulatorError('EMU_BAD_ARGS', 'give --profile or --rate');
  p.delay_ms ??= 0;
  validateParams(p);

  const mode = opts.get('mode') ?? 'udp';
  if (mode !== 'udp' && mode !== 'tcp' && mode !== 'pty') throw new EmulatorError('EMU_BAD_ARGS', `--mode must be udp, tcp or pty, got "${mode}"`);
  if (p.nat && mode !== 'udp') throw new EmulatorError('EMU_BAD_ARGS', `--nat-rebind and --nat-rebind-at need --mode udp (a NAT rebinding moves datagrams; a ${mode} stream would be cut)`);
  const seedOpt = num('seed');
  const seed = seedOpt ?? Date.now() % 0x1_0000_0000;
  const intervalS = num('interval') ?? 5;
  if (intervalS <= 0) throw new EmulatorError('EMU_BAD_ARGS', '--interval must be > 0');
  return { params: p, mode, seed, intervalS, opts, flags };
}

/**
 * --nat-rebind S (every S s), --nat-rebind-at T1,T2 (at those times, s),
 * --nat-side a|b (default a, the ship), --nat-timeout S (default the
 * profile's nat_timeout_s): a NAT in front of one side (nat.ts). Without a
 * rebind option there is no NAT.
 */
function natSettings(opts: Map<string, string>, num: (k: string) => number | undefined, profileTimeoutS: number | undefined): NatParams | undefined {
  const every = num('nat-rebind');
  const atText = opts.get('nat-rebind-at');
  const at = atText?.split(',').map((v) => Number(v.trim()));
  if (at?.some((v) => !Number.isFinite(v) || v < 0)) throw new EmulatorError('EMU_BAD_ARGS', `--nat-rebind-at: expected times in seconds like 30,95.5, got "${atText}"`);
  if (every === undefined && at === undefined) {
    for (const k of ['nat-side', 'nat-timeout']) if (opts.has(k)) throw new EmulatorError('EMU_BAD_ARGS', `--${k} needs --nat-rebind or --nat-rebind-at (they place the NAT)`);
    return undefined;
  }
  if (every !== undefined && !(every > 0)) throw new EmulatorError('EMU_BAD_ARGS', `--nat-rebind: expected seconds > 0, got ${every}`);
  const side = opts.get('nat-side') ?? 'a';
  if (side !== 'a' && side !== 'b') throw new EmulatorError('EMU_BAD_ARGS', `--nat-side must be a or b, got "${side}"`);
  const timeout = num('nat-timeout') ?? profileTimeoutS;
  return { side, ...(every !== undefined ? { rebind_every_s: every } : {}), ...(at ? { rebind_at_s: at } : {}), ...(timeout !== undefined ? { timeout_s: timeout } : {}) };
}

/** "9600", "64k", "1.5M", "2G" -> bit/s. */
export function parseRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:bps|bit\/s)?$/.exec(s.trim());
  if (!m) throw new EmulatorError('EMU_BAD_ARGS', `--rate: expected e.g. 9600, 64k, 1M, got "${s}"`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

export function parseOutage(key: string, v: string): Outage {
  const parts = v.split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) throw new EmulatorError('EMU_BAD_ARGS', `--${key}: not numbers: "${v}"`);
  if (key === 'outage') {
    if (parts.length !== 2) throw new EmulatorError('EMU_BAD_ARGS', `--outage: expected START_S:DURATION_S, got "${v}"`);
    return { start_s: parts[0], duration_s: parts[1] };
  }
  if (parts.length !== 2 && parts.length !== 3) throw new EmulatorError('EMU_BAD_ARGS', `--outage-every: expected EVERY_S:DURATION_S[:OFFSET_S], got "${v}"`);
  return { every_s: parts[0], duration_s: parts[1], ...(parts.length === 3 ? { offset_s: parts[2] } : {}) };
}

export function need(opts: Map<string, string>, key: string): string {
  const v = opts.get(key);
  if (v === undefined) throw new EmulatorError('EMU_BAD_ARGS', `--${key} is required in this mode`);
  return v;
}

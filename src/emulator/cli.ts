/**
 * `satrelay emulate`: runs the link emulator standalone (udp, tcp or pty mode),
 * prints a stats line every few seconds and a summary on SIGINT / SIGTERM.
 */
import type { Writable } from 'node:stream';
import type { BearerParams, Outage } from './engine.ts';
import { validateParams } from './engine.ts';
import { EmulatorError } from './errors.ts';
import { loadBearerParams } from './profile.ts';
import { startPtyEmulator, startTcpEmulator, startUdpEmulator, type EmulatorHandle } from './drivers.ts';

export const EMULATE_USAGE = `usage: satrelay emulate (--profile NAME|PATH | --rate BPS --delay MS) [impairments] MODE [--seed N] [--interval S]

modes:
  --mode udp --a-listen H:P [--a-forward H:P] --b-listen H:P [--b-forward H:P]
             (a side without --X-forward answers the last address that sent to it)
  --mode tcp --listen H:P --target H:P [--no-handshake]
  --mode pty [--dir DIR]              prints the two device paths

bearer (override the profile):
  --rate BPS (9600, 64k, 1M)  --delay MS  --jitter MS  --loss P
  --ge P_GB,P_BG[,LOSS_GOOD,LOSS_BAD]   Gilbert-Elliott burst loss
  --ber X  --mtu BYTES  --half-duplex  --turnaround MS  --duplicate P  --reorder P
  --outage START_S:DURATION_S  --outage-every EVERY_S:DURATION_S[:OFFSET_S]
  --queue BYTES  --overhead BYTES
`;

export interface EmulateIo {
  out?: Writable;
  err?: Writable;
  /** Stops the emulator like SIGINT (tests). */
  signal?: AbortSignal;
}

interface Parsed {
  params: BearerParams;
  mode: 'udp' | 'tcp' | 'pty';
  seed: number;
  intervalS: number;
  opts: Map<string, string>;
  flags: Set<string>;
}

const VALUE_OPTS = new Set([
  'profile', 'rate', 'delay', 'jitter', 'loss', 'ge', 'ber', 'mtu', 'turnaround', 'duplicate', 'reorder', 'outage',
  'outage-every', 'queue', 'overhead', 'mode', 'a-listen', 'a-forward', 'b-listen', 'b-forward', 'listen', 'target',
  'seed', 'interval', 'dir',
]);
const FLAG_OPTS = new Set(['half-duplex', 'no-handshake', 'help']);

export async function runEmulateCommand(args: string[], io: EmulateIo = {}): Promise<number> {
  const out = io.out ?? process.stdout;
  const err = io.err ?? process.stderr;
  let parsed: Parsed;
  try {
    parsed = parseEmulateArgs(args);
  } catch (e) {
    if (e instanceof EmulatorError) {
      err.write(`satrelay emulate: ${e.message}\n\n${EMULATE_USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed.flags.has('help')) {
    out.write(EMULATE_USAGE);
    return 0;
  }
  const { params, seed, opts } = parsed;
  let handle: EmulatorHandle;
  try {
    if (parsed.mode === 'udp') {
      const h = await startUdpEmulator({
        params, seed,
        a: { listen: need(opts, 'a-listen'), forward: opts.get('a-forward') },
        b: { listen: need(opts, 'b-listen'), forward: opts.get('b-forward') },
      });
      out.write(`emulate udp: a listens on ${h.addresses.a.address}:${h.addresses.a.port}, b listens on ${h.addresses.b.address}:${h.addresses.b.port}, seed ${seed}\n`);
      handle = h;
    } else if (parsed.mode === 'tcp') {
      const h = await startTcpEmulator({ params, seed, listen: need(opts, 'listen'), target: need(opts, 'target'), handshake: !parsed.flags.has('no-handshake') });
      out.write(`emulate tcp: listening on ${h.address.address}:${h.address.port} -> ${opts.get('target')}, seed ${seed}\n`);
      handle = h;
    } else {
      const h = await startPtyEmulator({ params, seed, dir: opts.get('dir') });
      out.write(`emulate pty: deviceA ${h.deviceA} deviceB ${h.deviceB}, seed ${seed}\n`);
      handle = h;
    }
  } catch (e) {
    err.write(`satrelay emulate: ${(e as Error).message}\n`);
    return e instanceof EmulatorError && e.code === 'EMU_BAD_ARGS' ? 2 : 1;
  }
  out.write(`bearer: ${JSON.stringify(params)}\n`);

  const started = Date.now();
  const tick = setInterval(() => {
    const s = handle.stats();
    const t = ((Date.now() - started) / 1000).toFixed(0);
    const line = (['ab', 'ba'] as const)
      .map((d) => {
        const x = s[d];
        const dropped = x.dropped_loss + x.dropped_mtu + x.dropped_queue + x.dropped_outage;
        return `${d} ${x.delivered}/${x.sent} pkts ${x.bytes_delivered} B dropped ${dropped} corrupted ${x.corrupted_packets}`;
      })
      .join(' | ');
    out.write(`[${t}s] ${line}\n`);
  }, parsed.intervalS * 1000);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop);
  });
  clearInterval(tick);
  await handle.close();
  out.write(`summary after ${((Date.now() - started) / 1000).toFixed(1)} s:\n${handle.summary()}\n`);
  return 0;
}

/** Parses emulate arguments; throws EmulatorError EMU_BAD_ARGS / EMU_PROFILE / EMU_BAD_PARAMS. */
export function parseEmulateArgs(args: string[]): Parsed {
  const opts = new Map<string, string>();
  const flags = new Set<string>();
  const outages: Outage[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new EmulatorError('EMU_BAD_ARGS', `unexpected argument "${a}"`);
    let key = a.slice(2);
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    if (FLAG_OPTS.has(key)) {
      flags.add(key);
      continue;
    }
    if (!VALUE_OPTS.has(key)) throw new EmulatorError('EMU_BAD_ARGS', `unknown option --${key}`);
    value ??= args[++i];
    if (value === undefined) throw new EmulatorError('EMU_BAD_ARGS', `--${key} needs a value`);
    if (key === 'outage' || key === 'outage-every') outages.push(parseOutage(key, value));
    else opts.set(key, value);
  }
  if (flags.has('help')) return { params: { rate_bps: 1, delay_ms: 0 }, mode: 'udp', seed: 0, intervalS: 5, opts, flags };

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
  if (outages.length > 0) p.outages = [...(p.outages ?? []), ...outages];
  if (p.rate_bps === undefined) throw new EmulatorError('EMU_BAD_ARGS', 'give --profile or --rate');
  p.delay_ms ??= 0;
  validateParams(p);

  const mode = opts.get('mode') ?? 'udp';
  if (mode !== 'udp' && mode !== 'tcp' && mode !== 'pty') throw new EmulatorError('EMU_BAD_ARGS', `--mode must be udp, tcp or pty, got "${mode}"`);
  const seedOpt = num('seed');
  const seed = seedOpt ?? Date.now() % 0x1_0000_0000;
  const intervalS = num('interval') ?? 5;
  if (intervalS <= 0) throw new EmulatorError('EMU_BAD_ARGS', '--interval must be > 0');
  return { params: p, mode, seed, intervalS, opts, flags };
}

/** "9600", "64k", "1.5M", "2G" -> bit/s. */
export function parseRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:bps|bit\/s)?$/.exec(s.trim());
  if (!m) throw new EmulatorError('EMU_BAD_ARGS', `--rate: expected e.g. 9600, 64k, 1M, got "${s}"`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * mult;
}

function parseOutage(key: string, v: string): Outage {
  const parts = v.split(':').map(Number);
  if (parts.some((n) => !Number.isFinite(n))) throw new EmulatorError('EMU_BAD_ARGS', `--${key}: not numbers: "${v}"`);
  if (key === 'outage') {
    if (parts.length !== 2) throw new EmulatorError('EMU_BAD_ARGS', `--outage: expected START_S:DURATION_S, got "${v}"`);
    return { start_s: parts[0], duration_s: parts[1] };
  }
  if (parts.length !== 2 && parts.length !== 3) throw new EmulatorError('EMU_BAD_ARGS', `--outage-every: expected EVERY_S:DURATION_S[:OFFSET_S], got "${v}"`);
  return { every_s: parts[0], duration_s: parts[1], ...(parts.length === 3 ? { offset_s: parts[2] } : {}) };
}

function need(opts: Map<string, string>, key: string): string {
  const v = opts.get(key);
  if (v === undefined) throw new EmulatorError('EMU_BAD_ARGS', `--${key} is required in this mode`);
  return v;
}

/**
 * `satrelay bench --profile P --workload W [--stanzas N] [--seed S]
 *  [--baseline builtin|none] [--metered COST_PER_MB:BUDGET_MB] [--json] [--out DIR] [--verbose]`; with
 *  `--bearers P1,P2` a link over several bearers (bench-bearers.ts)
 * (sim/bench.ts runs it; a checkout's bench/cli.ts adds `--baseline prosody`).
 * Prints a relay-vs-baseline table, or with --json exactly one JSON object on
 * stdout (progress and logs go to stderr); --out DIR also writes the run's
 * JSON and SVG chart there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { createLogger } from '../obs/log.ts';
import { runBench, DEFAULT_STANZAS, type BaselineChoice, type BenchResult, type ExtraBaseline } from '../sim/bench.ts';
import { BenchError } from '../sim/world.ts';
import type { Figures } from '../sim/measure.ts';
import { WORKLOADS } from '../sim/workloads.ts';
import { OPTIMIZERS, parseOptimizeChoice } from '../sim/optimize-choice.ts';
import { chartSvg } from '../sim/chart.ts';
import { parseOutageArg, type OutageSpec } from '../sim/outage.ts';
import { parseNatRebindArg } from '../sim/nat.ts';
import { parseMeteredArg, meteredTableLines, type MeteredBench } from '../sim/metered.ts';
import { SITE_DEFAULTS } from '../config/defaults.ts';
import { numberOption, runCommand, UsageError, type CommandSpec } from './args.ts';
import { bearersBench } from './bench-bearers.ts';

export const BENCH: CommandSpec = {
  name: 'bench',
  summary: 'One benchmark run: the same stanzas through a relay pair and through plain S2S over the same emulated bearer.\nPrints a table (or JSON); nothing is written unless --out is given (npm run bench writes every profile to bench/results/).',
  usage: '--profile NAME --workload NAME [options]',
  options: {
    profile: { type: 'string', value: 'NAME', help: 'link profile (profiles/NAME.yaml) or a path' },
    workload: { type: 'string', value: 'NAME', help: WORKLOADS.join(' | ') },
    stanzas: { type: 'string', value: 'N', help: `stanzas to send (default ${DEFAULT_STANZAS})` },
    seed: { type: 'string', value: 'S', help: 'emulator and workload seed (default 1)' },
    baseline: { type: 'string', value: 'KIND', help: 'builtin (plain S2S over the same bearer, default) | none' },
    optimize: { type: 'string', value: 'WHICH', help: `the relays' optimizers: on (default), off, or a comma list of those left on (${OPTIMIZERS.join(', ')})` },
    outage: { type: 'string', value: 'START_S:DURATION_S', help: 'cut the bearer both ways START_S s after the burst starts, for DURATION_S s (adds resume_ms, outage_probe_bytes, outage_bytes)' },
    'nat-rebind': { type: 'string', value: 'S', help: "the ship behind a NAT that gives it a new source port every S s; the shore relay has no peer and follows it (adds nat: rebinds, shore_followed, dropped)" },
    metered: { type: 'string', value: 'COST_PER_MB:BUDGET_MB', help: 'both relays treat the bearer as metered (carry messages, iq; presence and disco wait and are bounced after 10 s); adds metered: bytes, cost, held, refused per relay' },
    bearers: { type: 'string', value: 'P1,P2', help: 'a link over several bearers (primary first) instead of --profile; adds failover_ms, failback_ms, bytes per bearer' },
    'outage-bearer': { type: 'string', value: 'INDEX:START_S:DURATION_S', help: 'with --bearers: cut bearer INDEX (1 = the primary) both ways START_S s after the burst starts (default 1:0.05:40)' },
    'delivery-window': { type: 'string', value: 'N', help: "both relays' local.delivery_window: stanzas written to a local server before its XEP-0198 ack (default: the site-file default, 128)" },
    warmup: { type: 'string', value: 'N', help: 'chat stanzas each path carries before the measured burst, not counted, so the relays are measured as after a while in service (default: as many as the burst, at most about 3 s of the bearer; none below 100, nor with --metered, --outage or --nat-rebind); 0 measures a cold start' },
    json: { type: 'boolean', help: 'print one JSON object on stdout instead of the table' },
    out: { type: 'string', value: 'DIR', help: 'also write DIR/PROFILE-WORKLOAD.json and DIR/PROFILE-WORKLOAD.svg (a chart of this run)' },
    'tmp-dir': { type: 'string', value: 'DIR', help: "where the relays' spools live (default the OS temp dir; /dev/shm takes fsync out of the figures)" },
    'cpu-prof': { type: 'string', value: 'DIR', help: 'write a V8 CPU profile of each relay process to DIR (node --cpu-prof)' },
    verbose: { type: 'boolean', short: 'v', help: 'progress on stderr (default with --json: warnings only)' },
  },
};

/** `extra`: baselines the caller brings besides builtin and none (bench/cli.ts: prosody). */
export async function benchCommand(args: string[], extra: readonly ExtraBaseline[] = []): Promise<number> {
  let spec = BENCH;
  if (extra.length) {
    const baseline = { ...BENCH.options.baseline, help: `${BENCH.options.baseline.help} | ${extra.map((e) => e.kind).join(' | ')}` };
    spec = { ...BENCH, options: { ...BENCH.options, baseline } };
  }
  return runCommand(spec, args, (v) => bench(v, extra));
}

/** builtin, none, or one of the extra baselines; anything else is a usage error. */
function baselineChoice(v: string, extra: readonly ExtraBaseline[]): BaselineChoice {
  if (v === 'builtin' || v === 'none') return v;
  const b = extra.find((e) => e.kind === v);
  if (b) return b;
  const kinds = ['builtin', ...extra.map((e) => e.kind), 'none'];
  const hint = v === 'prosody' ? ' (the Prosody baseline runs from a checkout: npx tsx bench/cli.ts ... --baseline prosody)' : '';
  throw new UsageError(`--baseline must be ${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)}${hint}`);
}

async function bench(v: Record<string, string | boolean | string[] | undefined>, extra: readonly ExtraBaseline[]): Promise<number> {
  if (typeof v.bearers === 'string') return bearersBench(v);
  if (typeof v.profile !== 'string') throw new UsageError('--profile is required');
  if (typeof v.workload !== 'string') throw new UsageError('--workload is required');
  if (!(WORKLOADS as readonly string[]).includes(v.workload)) throw new UsageError(`--workload: unknown workload "${v.workload}" (${WORKLOADS.join(', ')})`);
  const stanzas = numberOption(v, 'stanzas', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const seed = numberOption(v, 'seed', Number.isInteger, 'an integer') ?? 1;
  const warmup = numberOption(v, 'warmup', (n) => Number.isInteger(n) && n >= 0, 'a whole number (0: none)');
  const deliveryWindow = numberOption(v, 'delivery-window', (n) => Number.isInteger(n) && n >= 1 && n <= SITE_DEFAULTS.local.delivery_window_max, `a whole number from 1 to ${SITE_DEFAULTS.local.delivery_window_max}`);
  const baseline = baselineChoice(typeof v.baseline === 'string' ? v.baseline : 'builtin', extra);
  let optimize: string;
  try {
    optimize = parseOptimizeChoice(typeof v.optimize === 'string' ? v.optimize : 'on');
  } catch (err) {
    throw new UsageError(`--optimize: ${(err as Error).message}`);
  }
  const outDir = typeof v.out === 'string' ? v.out : undefined;

  let outage: OutageSpec | undefined;
  try {
    outage = typeof v.outage === 'string' ? parseOutageArg(v.outage) : undefined;
  } catch (err) {
    throw new UsageError(`--outage: ${(err as Error).message}`);
  }
  let natRebindS: number | undefined;
  try {
    natRebindS = typeof v['nat-rebind'] === 'string' ? parseNatRebindArg(v['nat-rebind']) : undefined;
  } catch (err) {
    throw new UsageError(`--nat-rebind: ${(err as Error).message}`);
  }

  let metered: MeteredBench | undefined;
  try {
    metered = typeof v.metered === 'string' ? parseMeteredArg(v.metered) : undefined;
  } catch (err) {
    throw new UsageError(`--metered: ${(err as Error).message}`);
  }

  const log = createLogger({ level: v.verbose || !v.json ? 'info' : 'warn', name: 'bench', pretty: false, destination: 2 });
  // The relays' own log level: SATRELAY_BENCH_RELAY_LOG=debug (to files in the run's temp dir); warn by default.
  const relayLogLevel = process.env.SATRELAY_BENCH_RELAY_LOG;
  const prof = typeof v['cpu-prof'] === 'string' ? resolve(v['cpu-prof']) : undefined;
  const relayNodeArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : undefined;
  let result: BenchResult;
  try {
    result = await runBench({ profile: v.profile, workload: v.workload, stanzas, seed, baseline, optimize, log, relayLogLevel, relayNodeArgs, tmpDir: typeof v['tmp-dir'] === 'string' ? v['tmp-dir'] : undefined, outage, natRebindS, metered, deliveryWindow, warmup });
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`satrelay bench: ${err instanceof BenchError || code ? `${code}: ` : ''}${(err as Error).message}\n`);
    return 1;
  }
  if (v.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(formatTable(result, typeof baseline === 'object' ? baseline.title : undefined));
  if (outDir) {
    const base = join(outDir, `${basename(result.profile).replace(/\.ya?ml$/, '')}-${result.workload}`);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
    writeFileSync(`${base}.svg`, chartSvg(result.profile, [result]));
    process.stderr.write(`wrote ${base}.json and ${base}.svg\n`);
  }
  return 0;
}

const num = (n: number | null | undefined, d = 0): string => (n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ms = (n: number | null | undefined): string => (n === null || n === undefined ? 'never' : n >= 10_000 ? `${num(n / 1000, 1)} s` : `${num(n)} ms`);
const bps = (n: number): string => (n >= 1e6 ? `${num(n / 1e6, 2)} Mbit/s` : n >= 1e3 ? `${num(n / 1e3, 1)} kbit/s` : `${num(n)} bit/s`);

/** A table a person reads at a glance: relay vs plain S2S, and who wins by how much. */
export function formatTable(r: BenchResult, baselineTitle = 'plain S2S'): string {
  const b = r.baseline;
  const rows: Array<[string, (f: Figures) => string, string]> = [
    ['first stanza (cold)', (f) => ms(f.first_stanza_ms), ratio(b?.first_stanza_ms, r.first_stanza_ms, 'sooner')],
    ['bytes per stanza', (f) => `${num(f.bytes_per_stanza, 1)} B`, ratio(b?.bytes_per_stanza, r.bytes_per_stanza, 'fewer')],
    ['goodput (XML delivered)', (f) => bps(f.goodput_bps), ratio(r.goodput_bps, b?.goodput_bps, 'more')],
    ['bearer busy (burst less one-way delay)', (f) => `${num(f.bearer_busy * 100, 1)} %`, ''],
    ['bearer busy (whole burst)', (f) => `${num(f.link_utilization * 100, 1)} %`, ''],
    ['bytes on the bearer', (f) => `${num(f.link_bytes)} B`, ''],
    ['XML bytes delivered', (f) => `${num(f.xml_bytes)} B`, ''],
    ['transfer time (burst)', (f) => ms(f.transfer_ms), ''],
    ['stanzas per second (burst)', (f) => num(f.stanzas_per_s), ratio(r.stanzas_per_s, b?.stanzas_per_s, 'more')],
    ['latency p50 / p95', (f) => `${ms(f.latency_ms.p50)} / ${ms(f.latency_ms.p95)}`, ''],
    ['latency p99 / max', (f) => `${ms(f.latency_ms.p99)} / ${ms(f.latency_ms.max)}`, ''],
    ['delivered / sent', (f) => `${f.delivered} / ${f.stanzas}`, ''],
    ['lost / dup / reordered', (f) => `${f.lost} / ${f.duplicated} / ${f.reordered}`, ''],
    ['bounced / answered near', (f) => `${f.errors} / ${f.answered_near}`, ''],
  ];
  if (r.outage) {
    rows.push(['resume after the outage', (f) => (f.outage ? ms(f.resume_ms) : '-'), '']);
    rows.push(['bytes sent while dark', (f) => (f.outage ? `${num(f.outage_bytes)} B (probes ${num(f.outage_probe_bytes)} B)` : '-'), '']);
  }
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const cells = rows.map(([label, f, rat]) => [label.padEnd(w0), f(r), b ? f(b) : '-', rat]);
  const w1 = Math.max('relay pair'.length, ...cells.map((c) => c[1].length));
  const w2 = Math.max('plain S2S'.length, ...cells.map((c) => c[2].length));
  const line = (c: string[]): string => (b ? `  ${c[0]}  ${c[1].padStart(w1)}  ${c[2].padStart(w2)}  ${c[3]}` : `  ${c[0]}  ${c[1].padStart(w1)}`).trimEnd() + '\n';
  let out = `\nsatrelay bench  profile ${r.profile} (${bps(r.bearer.rate_bps)}, ${r.bearer.delay_ms} ms one-way, loss ${r.bearer.loss}${r.bearer.duplex === 'half' ? ', half duplex' : ''})\n`;
  out += `               workload ${r.workload}, ${r.stanzas} stanzas, seed ${r.seed}, ${r.duration_s} s${r.warmup ? `, after a warm-up of ${r.warmup.stanzas} chat stanzas` : ''}\n\n`;
  out += line([''.padEnd(w0), 'relay pair', b ? baselineTitle : '', b ? 'relay vs S2S' : '']);
  for (const c of cells) out += line(c);
  const extras: string[] = [];
  if (r.compression_ratio) extras.push(`compression ${num(r.compression_ratio, 2)}:1`);
  if (r.retransmits !== undefined) extras.push(`link retransmits ${r.retransmits}`);
  if (r.header_bytes !== null) extras.push(`link headers ${num(r.header_bytes)} B`);
  extras.push(`emulator drops ${r.emulator.dropped}`);
  if (r.nat) extras.push(`NAT rebinds ${r.nat.rebinds} (every ${r.nat.rebind_every_s} s), shore followed ${r.nat.shore_followed}, to stale ports ${r.nat.dropped}`);
  out += `\n  relay: ${extras.join(', ')}\n`;
  for (const [side, x] of Object.entries(r.relays ?? {})) {
    out += `  relay ${side.toUpperCase()} process: CPU ${num(x.cpu_ms)} ms in the burst, ${num(x.cpu_us_per_stanza, 1)} µs per stanza, peak RSS ${num(x.rss_max_mb, 1)} MB\n`;
  }
  out += meteredTableLines(r.metered);
  for (const n of r.notes) out += `  note: ${n}\n`;
  return out + '\n';
}

function ratio(num_: number | null | undefined, den: number | null | undefined, word: string): string {
  if (!num_ || !den) return '';
  const x = num_ / den;
  return x >= 1 ? `${num(x, x >= 10 ? 0 : 1)}x ${word}` : `${num(1 / x, 1)}x worse`;
}

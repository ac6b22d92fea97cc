/**
 * `satrelay bench --profile P --workload W [--stanzas N] [--seed S]
 *  [--baseline builtin|prosody|none] [--json] [--verbose]`
 * Prints a relay-vs-baseline table, or with --json exactly one JSON object on
 * stdout (progress and logs go to stderr).
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../src/obs/log.ts';
import { runBench, BenchError, DEFAULT_STANZAS, type BaselineKind, type BenchResult, type Figures } from './run.ts';
import { WORKLOADS } from './workloads.ts';
import { OPTIMIZERS, parseOptimizeChoice } from './optimize-choice.ts';
import { parseOutageArg, type OutageSpec } from './outage.ts';

const USAGE = `usage: satrelay bench --profile NAME --workload NAME [options]
  --profile NAME        link profile (profiles/NAME.yaml) or a path
  --workload NAME       ${WORKLOADS.join(' | ')}
  --stanzas N           stanzas to send (default ${DEFAULT_STANZAS})
  --seed S              emulator and workload seed (default 1)
  --baseline KIND       builtin (plain S2S over the same bearer, default) | prosody | none
  --optimize WHICH      the relays' traffic optimizers: on (default), off, or a comma list of
                        those left on (${OPTIMIZERS.join(', ')})
  --outage START_S:DURATION_S  cut the bearer both ways START_S s after the burst starts, for
                        DURATION_S s; the figures gain resume_ms (bearer back -> next stanza
                        delivered), outage_probe_bytes and outage_bytes
  --json                print one JSON object on stdout
  --tmp-dir DIR         where the relays' spools live (default the OS temp dir; a tmpfs
                        such as /dev/shm takes disk fsync out of the figures)
  --verbose             progress on stderr (default with --json: warnings only)
`;

export async function benchCommand(args: string[]): Promise<number> {
  let v: Record<string, string | boolean | undefined>;
  try {
    v = parseArgs({
      args,
      options: {
        profile: { type: 'string' },
        workload: { type: 'string' },
        stanzas: { type: 'string' },
        seed: { type: 'string' },
        baseline: { type: 'string' },
        optimize: { type: 'string' },
        outage: { type: 'string' },
        json: { type: 'boolean' },
        'tmp-dir': { type: 'string' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`satrelay bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const fail = (msg: string): number => {
    process.stderr.write(`satrelay bench: ${msg}\n${USAGE}`);
    return 2;
  };
  if (typeof v.profile !== 'string') return fail('--profile is required');
  if (typeof v.workload !== 'string') return fail('--workload is required');
  if (!(WORKLOADS as readonly string[]).includes(v.workload)) return fail(`unknown workload "${v.workload}"`);
  const stanzas = v.stanzas === undefined ? undefined : Number(v.stanzas);
  if (stanzas !== undefined && (!Number.isInteger(stanzas) || stanzas < 1)) return fail('--stanzas must be a positive integer');
  const seed = v.seed === undefined ? 1 : Number(v.seed);
  if (!Number.isInteger(seed)) return fail('--seed must be an integer');
  const baseline = (v.baseline ?? 'builtin') as BaselineKind;
  if (!['builtin', 'prosody', 'none'].includes(baseline)) return fail('--baseline must be builtin, prosody or none');
  let optimize: string;
  try {
    optimize = parseOptimizeChoice(typeof v.optimize === 'string' ? v.optimize : 'on');
  } catch (err) {
    return fail((err as Error).message);
  }

  let outage: OutageSpec | undefined;
  try {
    outage = typeof v.outage === 'string' ? parseOutageArg(v.outage) : undefined;
  } catch (err) {
    return fail((err as Error).message);
  }

  const log = createLogger({ level: v.verbose || !v.json ? 'info' : 'warn', name: 'bench', pretty: false, destination: 2 });
  // The relays' own logs: SATRELAY_BENCH_RELAY_LOG=debug (stderr); silent by default.
  const relayLevel = process.env.SATRELAY_BENCH_RELAY_LOG;
  const relayLog = relayLevel ? createLogger({ level: relayLevel, name: 'relay', pretty: false, destination: 2 }) : undefined;
  let result: BenchResult;
  try {
    result = await runBench({ profile: v.profile, workload: v.workload, stanzas, seed, baseline, optimize, log, relayLog, tmpDir: typeof v['tmp-dir'] === 'string' ? v['tmp-dir'] : undefined, outage });
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`satrelay bench: ${err instanceof BenchError || code ? `${code}: ` : ''}${(err as Error).message}\n`);
    return 1;
  }
  if (v.json) process.stdout.write(JSON.stringify(result) + '\n');
  else process.stdout.write(formatTable(result));
  return 0;
}

const num = (n: number | null | undefined, d = 0): string => (n === null || n === undefined ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));
const ms = (n: number | null | undefined): string => (n === null || n === undefined ? 'never' : n >= 10_000 ? `${num(n / 1000, 1)} s` : `${num(n)} ms`);
const bps = (n: number): string => (n >= 1e6 ? `${num(n / 1e6, 2)} Mbit/s` : n >= 1e3 ? `${num(n / 1e3, 1)} kbit/s` : `${num(n)} bit/s`);

/** A table a person reads at a glance: relay vs plain S2S, and who wins by how much. */
export function formatTable(r: BenchResult): string {
  const b = r.baseline;
  const rows: Array<[string, (f: Figures) => string, string]> = [
    ['first stanza (cold)', (f) => ms(f.first_stanza_ms), ratio(b?.first_stanza_ms, r.first_stanza_ms, 'sooner')],
    ['bytes per stanza', (f) => `${num(f.bytes_per_stanza, 1)} B`, ratio(b?.bytes_per_stanza, r.bytes_per_stanza, 'fewer')],
    ['goodput (XML delivered)', (f) => bps(f.goodput_bps), ratio(r.goodput_bps, b?.goodput_bps, 'more')],
    ['bearer busy during burst', (f) => `${num(f.link_utilization * 100, 1)} %`, ''],
    ['bytes on the bearer', (f) => `${num(f.link_bytes)} B`, ''],
    ['XML bytes delivered', (f) => `${num(f.xml_bytes)} B`, ''],
    ['transfer time (burst)', (f) => ms(f.transfer_ms), ''],
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
  out += `               workload ${r.workload}, ${r.stanzas} stanzas, seed ${r.seed}, ${r.duration_s} s\n\n`;
  out += line([''.padEnd(w0), 'relay pair', b ? (r.baseline_kind === 'prosody' ? 'Prosody S2S' : 'plain S2S') : '', b ? 'relay vs S2S' : '']);
  for (const c of cells) out += line(c);
  const extras: string[] = [];
  if (r.compression_ratio) extras.push(`compression ${num(r.compression_ratio, 2)}:1`);
  if (r.retransmits !== undefined) extras.push(`link retransmits ${r.retransmits}`);
  if (r.header_bytes !== null) extras.push(`link headers ${num(r.header_bytes)} B`);
  extras.push(`emulator drops ${r.emulator.dropped}`);
  out += `\n  relay: ${extras.join(', ')}\n`;
  for (const n of r.notes) out += `  note: ${n}\n`;
  return out + '\n';
}

function ratio(num_: number | null | undefined, den: number | null | undefined, word: string): string {
  if (!num_ || !den) return '';
  const x = num_ / den;
  return x >= 1 ? `${num(x, x >= 10 ? 0 : 1)}x ${word}` : `${num(1 / x, 1)}x worse`;
}

/**
 * `satrelay bench --bearers P1,P2 [--outage-bearer INDEX:START_S:DURATION_S]
 *  [--workload W] [--stanzas N] [--seed S] [--json]`: a relay pair over a
 * link with several bearers, one of them cut mid-burst (sim/bearers.ts).
 */
import { createLogger } from '../obs/log.ts';
import { parseBearersArg, parseOutageBearerArg, runBearersBench, type BearerOutageSpec, type BearersBenchResult } from '../sim/bearers.ts';
import { WORKLOADS } from '../sim/workloads.ts';
import { numberOption, UsageError } from './args.ts';

/** Default cut: the primary, 0.05 s into the burst (stanzas in flight on it), for 40 s. */
const DEFAULT_OUTAGE = '1:0.05:40';

export async function bearersBench(v: Record<string, string | boolean | string[] | undefined>): Promise<number> {
  const workload = typeof v.workload === 'string' ? v.workload : 'chat';
  if (!(WORKLOADS as readonly string[]).includes(workload)) throw new UsageError(`--workload: unknown workload "${workload}" (${WORKLOADS.join(', ')})`);
  if (typeof v.profile === 'string') throw new UsageError('--profile and --bearers do not go together: --bearers names each bearer\'s profile, primary first');
  let profiles: string[];
  let outage: BearerOutageSpec;
  try {
    profiles = parseBearersArg(v.bearers as string);
    outage = parseOutageBearerArg(typeof v['outage-bearer'] === 'string' ? v['outage-bearer'] : DEFAULT_OUTAGE, profiles.length);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const stanzas = numberOption(v, 'stanzas', (n) => Number.isInteger(n) && n >= 1, 'a positive integer');
  const seed = numberOption(v, 'seed', Number.isInteger, 'an integer') ?? 1;
  const log = createLogger({ level: v.verbose || !v.json ? 'info' : 'warn', name: 'bench', pretty: false, destination: 2 });
  let r: BearersBenchResult;
  try {
    r = await runBearersBench({ profiles, workload, stanzas, seed, outage, log, relayLogLevel: process.env.SATRELAY_BENCH_RELAY_LOG, tmpDir: typeof v['tmp-dir'] === 'string' ? v['tmp-dir'] : undefined });
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(`satrelay bench: ${code ? `${code}: ` : ''}${(err as Error).message}\n`);
    return 1;
  }
  if (v.json) process.stdout.write(JSON.stringify(r) + '\n');
  else process.stdout.write(formatBearers(r));
  return 0;
}

const ms = (n: number | null): string => (n === null ? 'never' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${n} ms`);

export function formatBearers(r: BearersBenchResult): string {
  const lines = [
    '',
    `satrelay bench  bearers ${r.bearers_profiles.join(' > ')}  workload ${r.workload}, ${r.stanzas} stanzas, seed ${r.seed}, ${r.duration_s} s`,
    '',
    `  failover (cut -> first stanza over another bearer)  ${ms(r.failover_ms)}`,
    `  failback (bearer back -> ship relay fails back)      ${ms(r.failback_ms)}`,
    `  delivered / sent                                    ${r.delivered} / ${r.stanzas}`,
    `  lost / dup / reordered                              ${r.lost} / ${r.duplicated} / ${r.reordered}`,
    ...r.bearers.map((b) => `  bearer ${b.index} ${b.profile.padEnd(20)} bytes ${b.bytes}`),
    `  switches: ship ${r.switches.ship.failovers} failover(s), ${r.switches.ship.failbacks} failback(s); shore ${r.switches.shore.failovers} / ${r.switches.shore.failbacks}`,
    ...r.notes.map((n) => `  note: ${n}`),
    '',
  ];
  return lines.join('\n') + '\n';
}

/**
 * npm run soak -- [--duration 30m] [--profile bgan-64k] [--seed 1] [--rate 10]
 *                 [--faults kind[:side][:ms][:p],...] [--kinds outage,kill-relay,...]
 *                 [--gap 20-60] [--drain 300] [--tuning "keepalive_s: 5"]
 *                 [--rss-growth-mb 64] [--fd-growth 16] [--keep] [--json]
 *
 * Exits 1 on any lost, duplicated or doubly answered stanza, a relay that
 * exited by itself, a pair that did not drain, or RSS / fd growth beyond the
 * bounds; 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { runSoak, formatSoakSummary } from './soak.ts';
import { parseFaults, FAULT_KINDS, type FaultKind } from './faults.ts';

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration "${s}" (e.g. 90s, 10m, 1h)`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000);
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        duration: { type: 'string', default: '30m' },
        profile: { type: 'string', default: 'bgan-64k' },
        seed: { type: 'string', default: '1' },
        rate: { type: 'string', default: '10' },
        faults: { type: 'string' },
        kinds: { type: 'string' },
        gap: { type: 'string' },
        drain: { type: 'string', default: '300' },
        tuning: { type: 'string' },
        'delivery-window': { type: 'string' },
        'rss-growth-mb': { type: 'string', default: '64' },
        'fd-growth': { type: 'string', default: '16' },
        keep: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(
      'npm run soak -- [--duration 30m] [--profile bgan-64k] [--seed N] [--rate stanzas/s] [--faults kind[:a|b][:ms][:p],...]\n' +
        `   [--kinds ${FAULT_KINDS.join(',')}] [--gap MIN-MAX s] [--drain s] [--tuning "keepalive_s: 5"] [--delivery-window N] [--rss-growth-mb 64] [--fd-growth 16] [--keep] [--json]\n`,
    );
    return 0;
  }
  let o;
  try {
    const kinds = args.kinds?.split(',').filter(Boolean) as FaultKind[] | undefined;
    for (const k of kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new Error(`unknown fault kind "${k}"`);
    const gap = args.gap?.split('-').map((n) => Number(n) * 1000);
    if (gap && (gap.length !== 2 || !gap.every((g) => g >= 0) || gap[0] > gap[1])) throw new Error('--gap takes MIN-MAX in seconds, e.g. 20-60');
    o = {
      durationMs: parseDuration(args.duration!),
      profile: args.profile!,
      seed: Number(args.seed),
      rate: Number(args.rate),
      faults: args.faults ? parseFaults(args.faults) : undefined,
      kinds,
      gapMs: gap as [number, number] | undefined,
      drainMs: Number(args.drain) * 1000,
      tuning: args.tuning,
      deliveryWindow: args['delivery-window'] === undefined ? undefined : Number(args['delivery-window']),
      rssGrowthMb: Number(args['rss-growth-mb']),
      fdGrowth: Number(args['fd-growth']),
      keepDir: args.keep,
    };
    if (o.deliveryWindow !== undefined && !(Number.isInteger(o.deliveryWindow) && o.deliveryWindow >= 1)) throw new Error('--delivery-window takes a whole number of stanzas, at least 1');
    if (!Number.isInteger(o.seed) || !(o.rate > 0) || !(o.drainMs > 0)) throw new Error('--seed takes an integer, --rate and --drain positive numbers');
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const result = await runSoak({ ...o, log: (line) => process.stderr.write(line + '\n') });
  if (args.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(formatSoakSummary(result) + '\n');
  return result.ok ? 0 : 1;
}

process.exitCode = await main();

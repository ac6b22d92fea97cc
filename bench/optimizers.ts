/**
 * `npm run bench:optimizers`: each traffic optimizer alone, all of them, and
 * none, per profile and workload (relay pair only, same seed and stanzas), so
 * the share of each is seen side by side.
 * Writes bench/results/optimizers.json and prints a Markdown table.
 *
 * Options: --profiles a,b  --workloads a,b  --scale X  --tmp-dir DIR  --out DIR
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runIfMain } from './entry.ts';
import { runJob, type Row } from './run-all.ts';
import { OPTIMIZERS, type WorkloadName } from '../src/sim/index.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CHOICES = ['off', ...OPTIMIZERS, 'on'] as const;
const DEFAULT_PROFILES = ['iridium-2400', 'milsatcom-9600', 'bgan-64k'];
const DEFAULT_WORKLOADS: WorkloadName[] = ['presence-storm', 'muc', 'disco', 'mixed'];
const COUNTS: Record<string, number> = { 'hf-1200': 30, 'iridium-2400': 60, 'milsatcom-9600': 150, 'bgan-64k': 300 };

interface Cell {
  choice: string;
  bytes_per_stanza?: number;
  p50_ms?: number;
  answered_near?: number;
  delivered?: number;
  lost?: number;
  duplicated?: number;
  error?: string;
}

function cell(choice: string, r: Row): Cell {
  if (!r.ok || !r.result) return { choice, error: r.error };
  const x = r.result;
  return { choice, bytes_per_stanza: x.bytes_per_stanza, p50_ms: x.latency_ms.p50, answered_near: x.answered_near, delivered: x.delivered, lost: x.lost, duplicated: x.duplicated };
}

const show = (c: Cell | undefined): string => (!c ? '-' : c.error ? 'failed' : `${c.bytes_per_stanza} B, ${c.p50_ms} ms`);

export async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: { profiles: { type: 'string' }, workloads: { type: 'string' }, scale: { type: 'string' }, 'tmp-dir': { type: 'string' }, out: { type: 'string' } },
  });
  const profiles = v.profiles ? v.profiles.split(',') : DEFAULT_PROFILES;
  const workloads = (v.workloads ? v.workloads.split(',') : DEFAULT_WORKLOADS) as WorkloadName[];
  const scale = Number(v.scale ?? 1);
  const outDir = v.out ?? join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const total = profiles.length * workloads.length * CHOICES.length;
  process.stderr.write(`satrelay bench: optimizers, ${total} runs (${profiles.length} profiles x ${workloads.length} workloads x ${CHOICES.join('/')})\n`);
  const t0 = Date.now();
  const table: Array<{ profile: string; workload: string; stanzas: number; cells: Cell[] }> = [];
  let done = 0;
  let bad = 0;
  for (const profile of profiles) {
    for (const workload of workloads) {
      const stanzas = Math.max(2, Math.round((COUNTS[profile] ?? 200) * scale));
      const cells: Cell[] = [];
      for (const choice of CHOICES) {
        const row = await runJob({ profile, workload, stanzas }, { tmpDir: v['tmp-dir'], extra: ['--baseline', 'none', '--optimize', choice] });
        const c = cell(choice, row);
        if (c.error || c.lost || c.duplicated) bad++;
        cells.push(c);
        done++;
        process.stderr.write(`[${done}/${total} ${((Date.now() - t0) / 1000).toFixed(0)} s] ${profile} ${workload} optimize=${choice}: ${show(c)}${c.error ? ` (${c.error})` : ''}\n`);
      }
      table.push({ profile, workload, stanzas, cells });
    }
  }
  writeFileSync(join(outDir, 'optimizers.json'), JSON.stringify({ generated_at: new Date().toISOString(), choices: CHOICES, rows: table }, null, 2) + '\n');
  const head = `| profile | workload | stanzas | ${CHOICES.map((c) => (c === 'off' || c === 'on' ? `all ${c}` : `${c} only`)).join(' | ')} | answered near (on) |`;
  const lines = [head, `|${'---|'.repeat(CHOICES.length + 4)}`];
  for (const r of table) {
    const on = r.cells.find((c) => c.choice === 'on');
    lines.push(`| ${r.profile} | ${r.workload} | ${r.stanzas} | ${r.cells.map(show).join(' | ')} | ${on?.answered_near ?? '-'} |`);
  }
  process.stdout.write(`bearer bytes per stanza and p50 latency, relay pair only:\n${lines.join('\n')}\n`);
  process.stderr.write(`done in ${((Date.now() - t0) / 60000).toFixed(1)} min, ${bad} runs failed or lost/duplicated stanzas\n`);
  return bad ? 1 : 0;
}

runIfMain(/optimizers\.ts$/, main);

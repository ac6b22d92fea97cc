/**
 * Top self-time entries of V8 CPU profiles (node --cpu-prof; satrelay bench
 * --cpu-prof DIR writes one per relay process):
 *   npx tsx bench/profile-top.ts [--top 10] FILE.cpuprofile...
 * Self time per function (name, file:line), summed over the samples, as a
 * share of the busy samples ((idle) left out) of that profile.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const m = /\/(node_modules\/.+|src\/.+)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '') || '(native)';
}

export function topSelf(p: Profile, n: number): { total_ms: number; rows: Array<{ ms: number; share: number; name: string }> } {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') return;
    const key = `${f.functionName || '(anonymous)'}  ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ ms: us / 1000, share: us / total, name }));
  return { total_ms: total / 1000, rows };
}

const args = process.argv.slice(2);
let top = 10;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i]);
}
for (const f of files) {
  const { total_ms, rows } = topSelf(JSON.parse(readFileSync(f, 'utf8')) as Profile, top);
  process.stdout.write(`${basename(f)}  (${total_ms.toFixed(0)} ms busy)\n`);
  for (const r of rows) process.stdout.write(`  ${r.ms.toFixed(0).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.name}\n`);
  process.stdout.write('\n');
}

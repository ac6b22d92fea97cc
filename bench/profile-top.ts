/**
 * Top self-time entries of V8 CPU profiles (node --cpu-prof; satrelay bench
 * --cpu-prof DIR writes one per relay process):
 *   npx tsx bench/profile-top.ts [--top 10] [--no-startup] FILE.cpuprofile...
 * Self time per function (name, file:line), summed over the samples, as a
 * share of the busy samples ((idle) left out) of that profile. --no-startup
 * leaves out samples taken while modules load (the process's start-up).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Module loading (Node's ESM and CJS loaders, tsx's hooks). */
const LOADING = /node:internal\/modules\/|\/tsx\/dist\//;
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function where(url: string): string {
  const m = /\/(node_modules\/.+|src\/.+)$/.exec(url);
  return m ? m[1] : url.replace(/^file:\/\//, '') || '(native)';
}

export function topSelf(p: Profile, n: number, noStartup = false): { total_ms: number; rows: Array<{ ms: number; share: number; name: string }> } {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const loading = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (LOADING.test(byId.get(at)!.callFrame.url)) return true;
    return false;
  };
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)' || (noStartup && loading(id))) return;
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
let noStartup = false;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else if (args[i] === '--no-startup') noStartup = true;
  else files.push(args[i]);
}
for (const f of files) {
  const { total_ms, rows } = topSelf(JSON.parse(readFileSync(f, 'utf8')) as Profile, top, noStartup);
  process.stdout.write(`${basename(f)}  (${total_ms.toFixed(0)} ms busy)\n`);
  for (const r of rows) process.stdout.write(`  ${r.ms.toFixed(0).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.name}\n`);
  process.stdout.write('\n');
}

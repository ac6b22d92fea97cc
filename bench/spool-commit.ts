/**
 * What a durable spool write costs per stanza (`npm run bench:spool`, or
 * `npx tsx bench/spool-commit.ts [--disk DIR] [--shm DIR] [--seconds S]`):
 * N writers each put one stanza in the same event-loop turn and wait for the
 * commit (accept: outbound, as for a stanza from a local server; receive:
 * inbound with deliveredUpTo, as for a stanza from the partner), round after
 * round. Prints wall and CPU µs per stanza and stanzas per commit, on a spool
 * on the real disk (fsync'd) and on /dev/shm (tmpfs: fsync costs nothing):
 * the median of `--reps` runs of `--seconds` each (other load on the machine
 * moves single runs a lot).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Metrics } from '../src/obs/metrics.ts';
import { Spool } from '../src/spool/index.ts';

const { values } = parseArgs({
  options: {
    disk: { type: 'string', default: tmpdir() },
    shm: { type: 'string', default: '/dev/shm' },
    seconds: { type: 'string', default: '1' },
    reps: { type: 'string', default: '3' },
    writers: { type: 'string', default: '1,10,100' },
  },
});
const budgetMs = Number(values.seconds) * 1000;
const stanza = Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="x1" type="chat"><body>${'x'.repeat(200)}</body></message>`);
const meta = { priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', kind: 'message', sid: 'x1', type: 'chat' };

interface Result { us: number; cpuUs: number; perCommit: number | undefined; stanzas: number }


async function run(base: string, op: 'accept' | 'receive', writers: number): Promise<Result> {
  const dir = mkdtempSync(join(base, 'satrelay-spool-commit-'));
  const metrics = new Metrics();
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 10_000_000, metrics });
  try {
    let next = 1n;
    const round = (): Promise<unknown> => {
      const all: Array<Promise<unknown>> = [];
      for (let w = 0; w < writers; w++) {
        all.push(op === 'accept' ? sp.accept('shore', stanza, { ...meta, acceptedAt: Date.now() }) : sp.receive('shore', next++, stanza));
      }
      return Promise.all(all);
    };
    for (let i = 0; i < 5; i++) await round(); // warm up
    const c0 = metrics.get('spool_commits_total');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < budgetMs) {
      await round();
      n += writers;
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const c1 = metrics.get('spool_commits_total');
    return { us: (wall * 1000) / n, cpuUs: (cpu.user + cpu.system) / n, perCommit: c1 > c0 ? n / (c1 - c0) : undefined /* a spool that does not count its commits */, stanzas: n };
  } finally {
    await sp.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log('| spool on | op | writers per turn | µs per stanza (wall) | CPU µs per stanza | stanzas per commit | stanzas |');
console.log('|---|---|---|---|---|---|---|');
for (const [where, base] of [['disk', values.disk], ['/dev/shm', values.shm]] as const) {
  for (const op of ['accept', 'receive'] as const) {
    for (const w of values.writers.split(',').map(Number)) {
      const rs: Result[] = [];
      for (let i = 0; i < Number(values.reps); i++) rs.push(await run(base, op, w));
      const per = rs[0].perCommit;
      console.log(`| ${where} (${base}) | ${op} | ${w} | ${median(rs.map((r) => r.us)).toFixed(1)} | ${median(rs.map((r) => r.cpuUs)).toFixed(1)} | ${per === undefined ? '-' : per.toFixed(1)} | ${median(rs.map((r) => r.stanzas))} |`);
    }
  }
}

/**
 * The spool's whole share of one stanza's trip (`npx tsx bench/spool-cycle.ts
 * [--stanzas N] [--window W] [--per-message K] [--dir DIR] [--reps R]`): on the
 * sending relay accept, assignGroups (K stanzas per link message) and
 * ackGroup; on the receiving relay receive and handedOver; W stanzas in
 * flight, each step's writes sharing group commits as in a relay. Prints
 * CPU µs per stanza for each side (median of R runs, after a warm-up run).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Spool } from '../src/spool/index.ts';

const { values } = parseArgs({
  options: {
    stanzas: { type: 'string', default: '8000' },
    window: { type: 'string', default: '32' },
    'per-message': { type: 'string', default: '4' },
    dir: { type: 'string', default: tmpdir() },
    reps: { type: 'string', default: '3' },
  },
});
const N = Number(values.stanzas);
const W = Number(values.window);
const K = Number(values['per-message']);
const stanza = (i: number) => Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="m${i}" type="chat"><body>${'x'.repeat(200)}</body></message>`);
const limits = { maxBytes: 1 << 30, maxStanzas: 10_000_000 };

async function run(): Promise<{ sender: number; receiver: number }> {
  const dir = mkdtempSync(join(values.dir, 'satrelay-spool-cycle-'));
  const a = Spool.open(join(dir, 'a'), limits);
  const b = Spool.open(join(dir, 'b'), limits);
  const raws = Array.from({ length: W }, (_, i) => stanza(i));
  let sender = 0, receiver = 0;
  const timed = async <T>(side: 'a' | 'b', fn: () => Promise<T>): Promise<T> => {
    const c0 = process.cpuUsage();
    const p = fn();
    let c = process.cpuUsage(c0);
    const r = await p;
    c = process.cpuUsage(c0); // the commit's completion runs in this await too
    if (side === 'a') sender += c.user + c.system;
    else receiver += c.user + c.system;
    return r;
  };
  try {
    let inId = 0n;
    for (let done = 0; done < N; done += W) {
      const ids = await timed('a', () => Promise.all(raws.map((s, i) => a.accept('shore', s, { priority: 'high', from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: Date.now(), kind: 'message', sid: `m${i}`, type: 'chat' }))));
      const groups: Array<{ ids: bigint[]; stanza: Buffer; priority: 'high' }> = [];
      for (let i = 0; i < ids.length; i += K) groups.push({ ids: ids.slice(i, i + K), stanza: Buffer.concat(raws.slice(i, i + K)), priority: 'high' as const });
      const gids = await timed('a', () => a.assignGroups('shore', groups));
      const got = await timed('b', () => Promise.all(groups.map((g, n) => b.receive('ship', ++inId, g.stanza, undefined, g.ids.map((_, j) => ({ length: raws[n * K + j].length, head: { kind: 'message', id: `m${n * K + j}`, from: 'alice@a.example/r', to: 'bob@b.example' } }))))));
      if (!got.every(Boolean)) throw new Error('a message was taken for a duplicate');
      await timed('b', () => Promise.all(groups.map((_, i) => b.handedOver('ship', inId - BigInt(groups.length - 1 - i)))));
      await timed('a', () => Promise.all(gids.map((g) => a.ackGroup('shore', g))));
    }
    if (a.stats().outboundCount !== 0 || b.stats().inboundCount !== 0) throw new Error('the spools did not empty');
    return { sender: sender / N, receiver: receiver / N };
  } finally {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await run(); // warm up
const rs = [];
for (let i = 0; i < Number(values.reps); i++) rs.push(await run());
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
console.log(`spool per stanza, ${N} stanzas, ${W} in flight, ${K} per link message, spool in ${values.dir}: CPU µs per stanza, median of ${values.reps}`);
console.log(`  sender   (accept, assignGroups, ackGroup)  ${median(rs.map((r) => r.sender)).toFixed(1)}`);
console.log(`  receiver (receive, handedOver)             ${median(rs.map((r) => r.receiver)).toFixed(1)}`);

/**
 * How to store a spool record's binary value (`npx tsx bench/spool-encoding.ts
 * [--records N] [--reps R]`): (a) a Buffer in a database with lmdb's msgpack
 * encoding (msgpackr wraps it as bin: one more copy, and a decode per read),
 * or (b) a database with encoding 'binary' (the bytes as they are). Puts and
 * removes go in transactions of 64, as group commits do; gets read each
 * record once. Prints CPU µs per record, the median of R rounds each.
 * The spool uses (b) (src/spool/spool.ts).
 */
import { open } from 'lmdb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { keyOf, sealOut } from '../src/spool/records.ts';

const { values } = parseArgs({ options: { records: { type: 'string', default: '20000' }, reps: { type: 'string', default: '5' }, dir: { type: 'string', default: tmpdir() } } });
const N = Number(values.records);
const BATCH = 64;
const stanza = Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="x1" type="chat"><body>${'x'.repeat(200)}</body></message>`);
const meta = { priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: Date.now(), kind: 'message', sid: 'x1', type: 'chat' };

const cpu = (from: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(from);
  return (c.user + c.system) / N;
};

async function round(mode: 'a' | 'b'): Promise<{ put: number; get: number; remove: number }> {
  const dir = mkdtempSync(join(values.dir, 'satrelay-spool-enc-'));
  const env = open({ path: dir, noSubdir: false, noSync: true, maxDbs: 8, eventTurnBatching: false });
  try {
    const db = env.openDB<Buffer, Buffer>('out', mode === 'a' ? { keyEncoding: 'binary' } : { keyEncoding: 'binary', encoding: 'binary' });
    const keys = Array.from({ length: N }, (_, i) => keyOf('shore', BigInt(i + 1)));
    const recs = keys.map((k) => sealOut(k, stanza, meta));
    let c = process.cpuUsage();
    for (let i = 0; i < N; i += BATCH) await env.transaction(() => { for (let j = i; j < Math.min(i + BATCH, N); j++) db.put(keys[j], recs[j]); });
    const put = cpu(c);
    c = process.cpuUsage();
    let sum = 0;
    for (const k of keys) sum += (mode === 'a' ? (db.get(k) as Buffer) : db.getBinary(k)!)[0];
    const get = cpu(c);
    if (sum !== 0xc1 * N) throw new Error('records did not read back');
    c = process.cpuUsage();
    for (let i = 0; i < N; i += BATCH) await env.transaction(() => { for (let j = i; j < Math.min(i + BATCH, N); j++) db.remove(keys[j]); });
    return { put, get, remove: cpu(c) };
  } finally {
    await env.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const res = { a: [] as Array<Awaited<ReturnType<typeof round>>>, b: [] as Array<Awaited<ReturnType<typeof round>>> };
await round('a');
await round('b'); // warm up
for (let r = 0; r < Number(values.reps); r++) for (const m of ['a', 'b'] as const) res[m].push(await round(m));
console.log(`spool record storage, ${N} records of ${sealOut(keyOf('shore', 1n), stanza, meta).length} B; CPU µs per record, median of ${values.reps}`);
console.log('| storage | put | get | remove |');
console.log('|---|---|---|---|');
for (const [m, name] of [['a', '(a) msgpack encoding, Buffer value'], ['b', "(b) encoding 'binary'"]] as const) {
  console.log(`| ${name} | ${median(res[m].map((x) => x.put)).toFixed(2)} | ${median(res[m].map((x) => x.get)).toFixed(2)} | ${median(res[m].map((x) => x.remove)).toFixed(2)} |`);
}

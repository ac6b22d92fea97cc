/**
 * What the spool's damage protection costs (`npx tsx bench/spool-check.ts`):
 * building and checking a record of a 300-byte stanza (layout and checksums), and the
 * checks before a spool opens (structural check of data.mdb, then the child
 * process that reads every record through lmdb) for spools of several sizes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Spool } from '../src/spool/index.ts';
import { checkSpoolDir } from '../src/spool/check.ts';
import { checkLmdbFile } from '../src/spool/lmdb-file.ts';
import { keyOf, sealOut, verifyOut } from '../src/spool/records.ts';

const stanza = Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="x1" type="chat"><body>${'x'.repeat(200)}</body></message>`);
const meta = { priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: Date.now(), kind: 'message', sid: 'x1', type: 'chat' };

const n = 200_000;
const key = keyOf('shore', 42n);
let t0 = performance.now();
for (let i = 0; i < n; i++) sealOut(key, stanza, meta);
const sealUs = ((performance.now() - t0) * 1000) / n;
const rec = sealOut(key, stanza, meta);
t0 = performance.now();
for (let i = 0; i < n; i++) verifyOut(key, rec);
const verifyUs = ((performance.now() - t0) * 1000) / n;
console.log(`records with checksums, ${stanza.length}-byte stanza: build ${sealUs.toFixed(2)} µs, read back and check ${verifyUs.toFixed(2)} µs per record`);

console.log('| records | data.mdb | structural check | lmdb read in a child | total before open |');
console.log('|---|---|---|---|---|');
for (const count of [0, 1_000, 10_000, 50_000]) {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-spool-bench-'));
  try {
    const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
    const all: Array<Promise<bigint>> = [];
    for (let i = 0; i < count; i++) all.push(sp.accept('shore', stanza, meta));
    await Promise.all(all);
    await sp.close();
    const runs = 3;
    let structural = 0, total = 0, pages = 0;
    for (let r = 0; r < runs; r++) {
      t0 = performance.now();
      pages = checkLmdbFile(join(dir, 'data.mdb')).pages;
      structural += performance.now() - t0;
      t0 = performance.now();
      const c = checkSpoolDir(dir);
      if (c.problem) throw new Error(c.problem);
      total += performance.now() - t0;
    }
    const ms = (v: number) => `${Math.round(v / runs)} ms`;
    console.log(`| ${count} | ${((pages * 4096) / 1024 / 1024).toFixed(1)} MiB | ${ms(structural)} | ${ms(total - structural)} | ${ms(total)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

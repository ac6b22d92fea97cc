/**
 * The structural check of lmdb's data file: a sound spool passes and its
 * pages add up; any damage yields a finding or a pass, never an exception
 * (it runs before lmdb, so it must not be the thing that falls over).
 */
import test from 'ava';
import fc from 'fast-check';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool } from '../../src/spool/index.ts';
import { checkLmdbFile } from '../../src/spool/lmdb-file.ts';

const SEED = Number(process.env.SPOOL_PROP_SEED ?? 20261203);

async function spool(t: { teardown(fn: () => void): void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-lmdbfile-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sp = Spool.open(dir, { maxBytes: 1 << 26, maxStanzas: 100_000 });
  const meta = { priority: 'high' as const, acceptedAt: 1 };
  const ids: bigint[] = [];
  // Small and large (overflow pages) stanzas, acks (a free list), inbound records and link messages.
  for (let i = 0; i < 400; i++) ids.push(await sp.accept('shore', Buffer.alloc(i % 50 === 0 ? 9000 : 150 + (i % 13) * 20, 'x'), meta));
  for (const id of ids.slice(0, 150)) await sp.ack('shore', id);
  await sp.assignGroups('shore', [{ ids: ids.slice(150, 160), stanza: Buffer.alloc(3000, 'g'), priority: 'low' }]);
  for (let i = 1; i <= 60; i++) await sp.receive('ship', BigInt(i), Buffer.alloc(200, 'i'));
  await sp.close();
  return join(dir, 'data.mdb');
}

test('a sound spool passes: every page used or free, entries per database', async (t) => {
  const r = checkLmdbFile(await spool(t));
  t.is(r.problem, undefined);
  t.deepEqual(r.warnings, []);
  t.is(r.used + r.free, r.pages, 'no page unaccounted for');
  t.is(r.leaked, 0);
  t.deepEqual(r.entries, { groups: 1, in: 60, out: 250, state: 3 }); // state: seq and gseq of shore, dut of ship
});

test('any damage gives a finding or a pass, never an exception', async (t) => {
  const file = await spool(t);
  const sound = readFileSync(file);
  const copy = join(file, '..', 'damaged.mdb');
  let findings = 0;
  fc.assert(
    fc.property(fc.nat(sound.length - 1), fc.uint8Array({ minLength: 1, maxLength: 64 }), (at, bytes) => {
      const b = Buffer.from(sound);
      b.set(bytes.subarray(0, b.length - at), at);
      writeFileSync(copy, b);
      const r = checkLmdbFile(copy);
      if (r.problem) findings++;
      return r.problem === undefined || typeof r.problem === 'string';
    }),
    { seed: SEED, numRuns: 300 },
  );
  copyFileSync(file, copy);
  t.is(checkLmdbFile(copy).problem, undefined);
  t.log(`${findings} of 300 damaged copies had a finding (seed ${SEED})`);
  t.true(findings > 0);
});

/**
 * Damages copies of a real spool at random and opens each the way the relay
 * does, in a child process, to see what survives:
 *   npx tsx bench/spool-fuzz.ts [meta|page|byte] [runs] [seed]
 * meta: one bit of the current meta page; page: 64 random bytes at a random
 * place of a random page; byte: one bit anywhere after the meta pages.
 * Each child opens the spool (checks, maybe moving it aside), recovers, reads
 * everything, writes 50 stanzas, acks, receives 30 and closes. Tallies: ok
 * (damaged records found or not), moved aside, failed with an error, crashed.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../src/spool/index.ts';

const self = fileURLToPath(import.meta.url);
const meta = { priority: 'high' as const, from: 'a@a.example', to: 'b@b.example', acceptedAt: Date.now(), kind: 'message' };

async function child(dir: string): Promise<void> {
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  const r = sp.recover('shore');
  sp.pending('shore');
  sp.inboundPending('shore');
  sp.groups('shore');
  for (let i = 0; i < 50; i++) await sp.accept('shore', Buffer.from(`<message>${'y'.repeat(300)}</message>`), meta);
  for (const e of sp.pending('shore').slice(0, 100)) await sp.ack('shore', e.id);
  for (let i = 1; i < 30; i++) await sp.receive('shore', 1_000_000n + BigInt(i), Buffer.from('<message/>'));
  await sp.close();
  process.stdout.write(`damaged ${r.damaged.length}\n`);
}

/** The spool every run starts from: 600 stanzas accepted, half acked, 99 received, 49 handed over. */
async function base(dir: string): Promise<void> {
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  const ids: bigint[] = [];
  for (let i = 0; i < 600; i++) ids.push(await sp.accept('shore', Buffer.from(`<message id="m${i}"><body>${'x'.repeat(200 + (i % 7) * 50)}</body></message>`), meta));
  for (const id of ids.slice(0, 300)) await sp.ack('shore', id);
  for (let i = 1; i < 100; i++) await sp.receive('shore', BigInt(i), Buffer.from(`<message id="i${i}"><body>${'z'.repeat(300)}</body></message>`));
  for (let i = 1; i < 50; i++) await sp.handedOver('shore', BigInt(i));
  await sp.close();
}

function damage(b: Buffer, mode: string, rnd: () => number): void {
  const psize = b.readUInt32LE(48);
  if (mode === 'meta') {
    const cur = b.readBigUInt64LE(152) >= b.readBigUInt64LE(psize + 152) ? 0 : psize;
    b[cur + 24 + Math.floor(rnd() * 144)] ^= 1 << Math.floor(rnd() * 8);
  } else if (mode === 'byte') {
    b[2 * psize + Math.floor(rnd() * (b.length - 2 * psize))] ^= 1 << Math.floor(rnd() * 8);
  } else {
    const at = (2 + Math.floor(rnd() * (b.length / psize - 2))) * psize + Math.floor(rnd() * (psize - 64));
    for (let k = 0; k < 64; k++) b[at + k] = Math.floor(rnd() * 256);
  }
}

if (process.argv[2] === '--child') {
  await child(process.argv[3]);
} else {
  const [mode = 'page', runs = '60', seedArg = '1'] = process.argv.slice(2);
  let seed = Number(seedArg);
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const root = mkdtempSync(join(tmpdir(), 'satrelay-spool-fuzz-'));
  try {
    await base(join(root, 'base'));
    const tally = new Map<string, number>();
    for (let i = 0; i < Number(runs); i++) {
      const run = join(root, `run${i}`);
      cpSync(join(root, 'base'), join(run, 'spool'), { recursive: true });
      const file = join(run, 'spool', 'data.mdb');
      const b = readFileSync(file);
      damage(b, mode, rnd);
      writeFileSync(file, b);
      const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', join(run, 'spool')], { encoding: 'utf8', timeout: 120_000 });
      const outcome = r.signal
        ? `crashed (${r.signal})`
        : r.status !== 0
          ? 'failed with an error'
          : readdirSync(run).some((f) => f.includes('.corrupt-'))
            ? 'moved aside, fresh spool'
            : r.stdout.includes('damaged 0')
              ? 'opened, no damaged record'
              : 'opened, damaged records taken out';
      tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
      rmSync(run, { recursive: true, force: true });
    }
    console.log(`${mode}, ${runs} runs, seed ${seedArg}:`);
    for (const [k, v] of tally) console.log(`  ${k}: ${v}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

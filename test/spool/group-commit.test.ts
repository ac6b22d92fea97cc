/**
 * Group commit (src/spool/commit.ts): the writes made in one event-loop turn
 * share one lmdb commit (spool_commits_total counts them), no caller's promise
 * resolves before that commit, and a kill -9 right after callers saw their
 * writes resolve loses none of them.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../../src/spool/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { runUntilKilled } from './kill-child.ts';

const here = dirname(fileURLToPath(import.meta.url));
const big = { maxBytes: 1 << 24, maxStanzas: 100_000 };
const meta = { priority: 'high' as const, acceptedAt: 1_000 };

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-spool-gc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('writes made in one turn share one commit, and no promise resolves before it', async (t) => {
  const dir = tempDir(t);
  const metrics = new Metrics();
  let sp = Spool.open(dir, { ...big, metrics });
  const commits = () => metrics.get('spool_commits_total');
  const seen: number[] = [];
  const turn = (round: number): Array<Promise<unknown>> => {
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) {
      all.push(sp.accept('shore', Buffer.from(`<m r="${round}" i="${i}"/>`), meta).then(() => seen.push(commits())));
      all.push(sp.receive('shore', BigInt(round * 50 + i + 1), Buffer.from(`<in i="${i}"/>`)).then(() => seen.push(commits())));
    }
    all.push(sp.advanceDeliveredUpTo('other', BigInt(7 + round)).then(() => seen.push(commits())));
    return all;
  };
  await Promise.all(turn(0));
  t.is(commits(), 1, '101 writes in one turn: one commit');
  t.is(seen.length, 101);
  t.true(seen.every((c) => c === 1), 'every promise resolved after the commit, none before');
  t.is(metrics.get('spool_accepted_total'), 50);
  t.is(metrics.get('spool_received_total'), 50);

  seen.length = 0;
  await Promise.all(turn(1));
  t.is(commits(), 2, 'the next turn: the next commit');
  t.true(seen.every((c) => c === 2));
  await Promise.all(sp.pending('shore').slice(0, 30).map((e) => sp.ack('shore', e.id)));
  t.is(commits(), 3, '30 acks in one turn: one commit');
  t.is(metrics.get('spool_acked_total'), 30);
  t.is(metrics.get('spool_outbound_stanzas'), 70, 'gauges follow the commit');
  await sp.close();

  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  t.is(sp.pending('shore').length, 70);
  t.is(sp.inboundPending('shore').length, 100);
  t.is(sp.deliveredUpTo('shore'), 100n, 'delivered-up-to as of the last write of each batch');
  t.is(sp.deliveredUpTo('other'), 8n);
  t.is(sp.nextId('shore'), 101n);
});

test('a duplicate received while the first copy waits for its commit is answered only after that commit', async (t) => {
  const sp = Spool.open(tempDir(t), big);
  t.teardown(() => sp.close());
  const order: string[] = [];
  const first = sp.receive('shore', 1n, Buffer.from('<a/>')).then((fresh) => order.push(`first ${fresh}`));
  const again = sp.receive('shore', 1n, Buffer.from('<a/>')).then((fresh) => order.push(`again ${fresh}`));
  await Promise.all([first, again]);
  // The link acknowledges a duplicate to the partner at once: before the first copy is on disk, a crash would lose it.
  t.deepEqual(order, ['first true', 'again false']);
});

test('a link name too long for lmdb keys is refused up front, not by failing the commit others share', async (t) => {
  const sp = Spool.open(tempDir(t), big);
  t.teardown(() => sp.close());
  const long = 'l'.repeat(3000);
  const [bad, badIn, good] = await Promise.allSettled([
    sp.accept(long, Buffer.from('<a/>'), meta),
    sp.receive(long, 1n, Buffer.from('<a/>')),
    sp.accept('shore', Buffer.from('<b/>'), meta),
  ]);
  t.is(bad.status === 'rejected' && (bad.reason as { code?: string }).code, 'SPOOL_BAD_LINK');
  t.is(badIn.status === 'rejected' && (badIn.reason as { code?: string }).code, 'SPOOL_BAD_LINK');
  t.deepEqual(good, { status: 'fulfilled', value: 1n });
  await t.throwsAsync(sp.assignGroups(long, [{ ids: [1n], stanza: Buffer.from('<a/>'), priority: 'high' }]), { code: 'SPOOL_BAD_LINK' });
  t.deepEqual(sp.pending('shore').map((e) => e.stanza.toString()), ['<b/>']);
});

// A child puts 40 accepts and 40 receives per turn and prints each as its promise
// resolves; it is killed right after a seeded number of lines; every one printed is there.
for (const seed of [1, 2]) {
  test(`kill -9 right after batched writes resolved loses none of them (seed ${seed})`, async (t) => {
    const dir = tempDir(t);
    const killAfter = 30 + ((seed * 7919) % 500);
    t.log(`seed ${seed}: kill after ${killAfter} printed writes`);
    const lines = await runUntilKilled(t, join(here, 'batch-crash-child.ts'), [dir, '40', '1000'], killAfter);
    t.true(lines.length >= killAfter);
    const sp = Spool.open(dir, big);
    t.teardown(() => sp.close());
    const out = new Map(sp.pending('shore').map((e) => [e.id, e.stanza.toString()]));
    const inb = new Map(sp.inboundPending('shore').map((e) => [e.id, e.stanza.toString()]));
    const held = new Set(sp.deliveredAbove('shore'));
    for (const line of lines) {
      const [kind, id, n] = line.split(' ');
      if (kind === 'a') t.is(out.get(BigInt(id)), `<message id="m${n}"/>`, `accept ${id} resolved but lost`);
      else {
        t.is(inb.get(BigInt(id)), `<message id="r${id}"/>`, `receive ${id} resolved but lost`);
        t.true(BigInt(id) <= sp.deliveredUpTo('shore') || held.has(BigInt(id)), `receive ${id} not marked delivered`);
      }
    }
  });
}

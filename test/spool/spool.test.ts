import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool, SpoolError, SpoolFullError } from '../../src/spool/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { runUntilKilled } from './kill-child.ts';

const here = dirname(fileURLToPath(import.meta.url));

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-spool-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const meta = (n = 0) => ({ priority: 'high' as const, from: 'a@a.example', to: 'b@b.example', acceptedAt: 1_000 + n });
const big = { maxBytes: 1 << 20, maxStanzas: 10_000 };

test('accept gives increasing ids; pending is in id order; ack removes', async (t) => {
  const sp = Spool.open(tempDir(t), big);
  t.teardown(() => sp.close());
  t.is(sp.nextId('shore'), 1n);
  const ids = await Promise.all([0, 1, 2, 3, 4].map((n) => sp.accept('shore', Buffer.from(`<m n="${n}"/>`), meta(n))));
  t.deepEqual(ids, [1n, 2n, 3n, 4n, 5n]);
  const other = await sp.accept('other', Buffer.from('<x/>'), meta());
  t.is(other, 1n, 'ids are per link');
  await sp.ack('shore', 2n);
  await sp.ack('shore', 4n);
  await sp.ack('shore', 4n); // idempotent
  const p = sp.pending('shore');
  t.deepEqual(p.map((e) => e.id), [1n, 3n, 5n]);
  t.deepEqual(p.map((e) => e.stanza.toString()), ['<m n="0"/>', '<m n="2"/>', '<m n="4"/>']);
  t.deepEqual(p[1].meta, meta(2));
  t.is(sp.nextId('shore'), 6n);
  const s = sp.stats('shore', 2_000);
  t.is(s.outboundCount, 3);
  t.is(s.outboundBytes, 30);
  t.is(s.oldestAgeMs, 1_000);
  t.is(sp.stats(undefined, 2_000).outboundCount, 4);
});

test('ids above 2^53 keep their order (bigint keys)', async (t) => {
  const dir = tempDir(t);
  let sp = Spool.open(dir, big);
  await sp.accept('l', Buffer.from('a'), meta());
  await sp.receive('l', 2n ** 60n, Buffer.from('x'));
  await sp.receive('l', 2n ** 60n + 1n, Buffer.from('y'));
  await sp.receive('l', 255n, Buffer.from('z'));
  await sp.close();
  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  t.deepEqual(sp.inboundPending('l').map((e) => e.id), [255n, 2n ** 60n, 2n ** 60n + 1n]);
});

test('close and reopen keeps outbound, inbound, next id and deliveredUpTo', async (t) => {
  const dir = tempDir(t);
  let sp = Spool.open(dir, big);
  for (let n = 0; n < 5; n++) await sp.accept('shore', Buffer.from(`s${n}`), { ...meta(n), extra: new Uint8Array([n, 7]) });
  for (const id of [1n, 2n, 3n, 4n, 5n]) await sp.ack('shore', id);
  await sp.accept('shore', Buffer.from('kept'), meta(9));
  t.true(await sp.receive('shore', 1n, Buffer.from('in1'), new Uint8Array([9])));
  t.true(await sp.receive('shore', 2n, Buffer.from('in2')));
  t.true(await sp.receive('shore', 4n, Buffer.from('in4')));
  await sp.handedOver('shore', 1n);
  await sp.close();
  await t.throwsAsync(sp.accept('shore', Buffer.from('late'), meta()), { code: 'SPOOL_CLOSED' });

  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  t.is(sp.nextId('shore'), 7n, 'ids are never reused, even after everything was acked');
  const p = sp.pending('shore');
  t.deepEqual(p.map((e) => [e.id, e.stanza.toString()]), [[6n, 'kept']]);
  t.is(sp.deliveredUpTo('shore'), 2n);
  t.deepEqual(sp.deliveredAbove('shore'), [4n]);
  t.deepEqual(sp.inboundPending('shore').map((e) => [e.id, e.stanza.toString()]), [[2n, 'in2'], [4n, 'in4']]);
  t.false(await sp.receive('shore', 4n, Buffer.from('dup')), 'id held above the gap survives restart');
  t.true(await sp.receive('shore', 3n, Buffer.from('in3')));
  t.is(sp.deliveredUpTo('shore'), 4n, 'gap filled: contiguous up to 4');
  t.deepEqual(sp.deliveredAbove('shore'), []);
  t.is(sp.stats('shore').inboundCount, 3);
});

test('duplicate receive is refused and counted, nothing stored', async (t) => {
  const metrics = new Metrics();
  const sp = Spool.open(tempDir(t), { ...big, metrics });
  t.teardown(() => sp.close());
  t.true(await sp.receive('shore', 1n, Buffer.from('a')));
  await sp.handedOver('shore', 1n);
  t.false(await sp.receive('shore', 1n, Buffer.from('a again')));
  t.true(await sp.receive('shore', 3n, Buffer.from('c')));
  t.false(await sp.receive('shore', 3n, Buffer.from('c again')));
  t.is(sp.deliveredUpTo('shore'), 1n);
  t.deepEqual(sp.inboundPending('shore').map((e) => e.stanza.toString()), ['c']);
  t.is(metrics.get('spool_inbound_duplicate_total'), 2);
  await t.throwsAsync(sp.receive('shore', 0n, Buffer.from('x')), { code: 'SPOOL_BAD_ID' });
  await sp.advanceDeliveredUpTo('shore', 2n);
  t.is(sp.deliveredUpTo('shore'), 3n, 'floor moved past the gap absorbs id 3');
  t.false(await sp.receive('shore', 2n, Buffer.from('b')));
});

test('full spool refuses with SPOOL_FULL and stores nothing', async (t) => {
  const metrics = new Metrics();
  const sp = Spool.open(tempDir(t), { maxBytes: 100, maxStanzas: 3, metrics });
  t.teardown(() => sp.close());
  await sp.accept('a', Buffer.alloc(40), meta());
  await sp.accept('b', Buffer.alloc(40), meta());
  const err = await t.throwsAsync(sp.accept('a', Buffer.alloc(21), meta()), { instanceOf: SpoolFullError });
  t.is(err?.code, 'SPOOL_FULL');
  await sp.accept('a', Buffer.alloc(20), meta());
  await t.throwsAsync(sp.accept('a', Buffer.alloc(0), meta()), { code: 'SPOOL_FULL' }, 'stanza count limit');
  t.is(sp.stats().outboundCount, 3);
  t.is(sp.stats().outboundBytes, 100);
  t.deepEqual(sp.pending('a').map((e) => e.id), [1n, 2n], 'refused stanza got no id');
  t.is(metrics.get('spool_full_total'), 2);
  await sp.ack('b', 1n);
  t.is(await sp.accept('a', Buffer.alloc(40), meta()), 3n, 'room again after an ack');
});

test('concurrent accepts beyond the limit: exactly the ones that fit are stored', async (t) => {
  const sp = Spool.open(tempDir(t), { maxBytes: 1000, maxStanzas: 5 });
  t.teardown(() => sp.close());
  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, n) => sp.accept('a', Buffer.from(`x${n}`), meta(n))));
  t.is(results.filter((r) => r.status === 'fulfilled').length, 5);
  t.true(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof SpoolError));
  t.is(sp.pending('a').length, 5);
});

test('expire removes and returns old stanzas, durably', async (t) => {
  const dir = tempDir(t);
  let sp = Spool.open(dir, big);
  await sp.accept('a', Buffer.from('old1'), { priority: 'low', acceptedAt: 100 });
  await sp.accept('a', Buffer.from('new'), { priority: 'low', acceptedAt: 5_000 });
  await sp.accept('a', Buffer.from('old2'), { priority: 'high', acceptedAt: 200 });
  const gone = sp.expire('a', 1_000, 6_000);
  t.deepEqual(gone.map((e) => e.stanza.toString()), ['old1', 'old2']);
  t.deepEqual(sp.expire('a', 1_000, 6_000), []);
  await sp.close();
  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  t.deepEqual(sp.pending('a').map((e) => e.stanza.toString()), ['new']);
  t.is(sp.stats('a').outboundCount, 1);
});

test('bad link name is a typed error', async (t) => {
  const sp = Spool.open(tempDir(t), big);
  t.teardown(() => sp.close());
  await t.throwsAsync(sp.accept('a\0b', Buffer.from('x'), meta()), { code: 'SPOOL_BAD_LINK' });
  t.throws(() => Spool.open(tempDir(t), { maxBytes: 0, maxStanzas: 1 }), { code: 'SPOOL_BAD_OPTIONS' });
});

// Crash test: a child accepts stanzas and prints each id after its promise
// resolved; we SIGKILL it at a seeded random point; every printed id must be there.
for (const seed of [1, 2, 3]) {
  test(`kill -9 during accepts loses nothing acknowledged (seed ${seed})`, async (t) => {
    const dir = tempDir(t);
    const killAfter = 20 + ((seed * 7919) % 200);
    t.log(`seed ${seed}: kill after ${killAfter} printed ids`);
    const printed = new Map<bigint, number>();
    for (const line of await runUntilKilled(t, join(here, 'crash-child.ts'), [dir, '5000'], killAfter)) {
      const [id, n] = line.split(' ');
      printed.set(BigInt(id), Number(n));
    }
    t.true(printed.size >= killAfter);
    const sp = Spool.open(dir, big);
    t.teardown(() => sp.close());
    const stored = new Map(sp.pending('shore').map((e) => [e.id, e.stanza.toString()]));
    for (const [id, n] of printed) t.is(stored.get(id), `<message id="m${n}"/>`, `id ${id} acknowledged to the caller but lost`);
    t.true(sp.nextId('shore') > [...printed.keys()].reduce((a, b) => (a > b ? a : b)), 'next id is above every id handed out');
  });
}

test('link messages (groups) are recorded durably and acknowledged as a whole', async (t) => {
  const dir = tempDir(t);
  let sp = Spool.open(dir, big);
  const ids: bigint[] = [];
  for (let i = 0; i < 4; i++) ids.push(await sp.accept('shore', Buffer.from(`<presence id='p${i}'/>`), meta(i)));
  t.is(sp.nextGroupId('shore'), 1n);
  const gids = await sp.assignGroups('shore', [
    { ids: [ids[0], ids[2]], stanza: Buffer.from('<presence id="folded"/>'), priority: 'low' },
    { ids: [ids[1]], stanza: Buffer.from(`<presence id='p1'/>`), priority: 'low' },
  ]);
  t.deepEqual(gids, [1n, 2n]);
  await sp.close();

  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  const groups = sp.groups('shore');
  t.deepEqual(groups.map((g) => [g.gid, g.ids, g.stanza.toString()]), [
    [1n, [ids[0], ids[2]], '<presence id="folded"/>'],
    [2n, [ids[1]], `<presence id='p1'/>`],
  ]);
  t.is(sp.nextGroupId('shore'), 3n, 'group ids continue after a restart');
  await sp.ackGroup('shore', 1n);
  t.deepEqual(sp.pending('shore').map((e) => e.id), [ids[1], ids[3]], 'both stanzas of the message are gone');
  t.deepEqual(sp.groups('shore').map((g) => g.gid), [2n]);
  t.is(sp.stats('shore').outboundCount, 2);
  await sp.ackGroup('shore', 1n); // idempotent
  t.is(sp.stats('shore').outboundCount, 2);
});

test('acceptedAt and entry read one unacknowledged stanza; gone once acknowledged', async (t) => {
  const sp = Spool.open(tempDir(t), big);
  t.teardown(() => sp.close());
  const id = await sp.accept('shore', Buffer.from('<message id="x"/>'), meta(7));
  t.is(sp.acceptedAt('shore', id), 1_007);
  t.is(sp.entry('shore', id)?.stanza.toString(), '<message id="x"/>');
  await sp.ack('shore', id);
  t.is(sp.acceptedAt('shore', id), undefined);
  t.is(sp.entry('shore', id), undefined);
});

test('keepInbound keeps what is left of a message with its meta and heads, across a restart', async (t) => {
  const dir = tempDir(t);
  let sp = Spool.open(dir, big);
  const parts = ['<a/>', '<b x="1"/>', '<c/>'].map((s) => Buffer.from(s));
  const head = (id: string) => ({ kind: 'message', id, from: 'f@x.example' });
  t.true(await sp.receive('shore', 3n, Buffer.concat(parts), new Uint8Array([7, 8]), parts.map((p, i) => ({ length: p.length, head: head(`p${i}`) }))));
  await sp.keepInbound('shore', 3n, Buffer.concat(parts.slice(1)), parts.slice(1).map((p, i) => ({ length: p.length, head: head(`p${i + 1}`) })));
  await sp.close();
  sp = Spool.open(dir, big);
  t.deepEqual(sp.inboundPending('shore').map((e) => [e.id, e.stanza.toString(), e.meta]), [[3n, '<b x="1"/><c/>', new Uint8Array([7, 8])]]);
  // After a restart the meta comes from the record itself.
  await sp.keepInbound('shore', 3n, parts[2], [{ length: parts[2].length, head: head('p2') }]);
  await sp.close();
  sp = Spool.open(dir, big);
  t.teardown(() => sp.close());
  t.deepEqual(sp.inboundPending('shore').map((e) => [e.id, e.stanza.toString(), e.meta]), [[3n, '<c/>', new Uint8Array([7, 8])]]);
  t.deepEqual(sp.recover('shore').damaged, []);
});

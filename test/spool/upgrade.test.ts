/**
 * Upgrading over a spool the previous release wrote (msgpack records,
 * test/helpers/legacy-spool.ts writes them through the same lmdb calls):
 * everything it held is delivered, damaged records are bounced with their
 * heads, and what the new version writes is in the binary layout.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { Spool, inspectSpool } from '../../src/spool/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { LegacySpool, keyOf } from '../helpers/legacy-spool.ts';

const limits = { maxBytes: 1 << 24, maxStanzas: 100_000 };
const st = (id: string, body = id) => Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="${id}" type="chat"><body>${body}</body></message>`);
const meta = (id: string, at = 1_000) => ({ priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: at, kind: 'message', sid: id, type: 'chat' });
const head = (id: string) => ({ kind: 'message', id, from: 'carol@b.example/x', to: 'alice@a.example' });

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-upgrade-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What a relay of the previous release left: a link message of 1 and 2, 3 unsent, 4 damaged, 5 from before checksums; inbound 7 whole, 8 with its second stanza damaged. */
async function oldSpool(dir: string): Promise<void> {
  const old = new LegacySpool(dir);
  for (const n of [1, 2, 3]) old.out('shore', BigInt(n), st(`m${n}`), meta(`m${n}`, 1_000 + n));
  old.out('shore', 4n, st('m4', 'to the ship'), meta('m4'), { damage: st('m4', 'to the shop') });
  old.out('shore', 5n, st('m5'), meta('m5', 1_005), { unchecked: true });
  old.group('shore', 1n, [1n, 2n], Buffer.concat([st('m1'), st('m2')]), 'high');
  old.in('shore', 7n, [{ s: st('i1'), head: head('i1') }, { s: st('i2'), head: head('i2') }]);
  old.in('shore', 8n, [{ s: st('i3'), head: head('i3') }, { s: st('i4', 'four'), head: head('i4'), damage: st('i4', 'fout') }]);
  old.state('seq\0shore', '5');
  old.state('gseq\0shore', '1');
  old.state('dut\0shore', { d: '8', a: [] });
  await old.close();
}

test('a spool written by the previous release: everything intact is delivered, damaged stanzas bounced with their heads', async (t) => {
  const dir = tempDir(t);
  await oldSpool(dir);
  const metrics = new Metrics();
  let sp = Spool.open(dir, { ...limits, metrics });
  const r = sp.recover('shore');
  t.deepEqual(
    r.damaged.map((d) => [d.store, d.id, d.head?.id]),
    [['out', 4n, 'm4'], ['in', 8n, 'i4']],
  );
  t.is(metrics.get('spool_damaged_records_total', { store: 'out' }), 1);
  const pending = sp.pending('shore');
  t.deepEqual(pending.map((e) => [e.id, e.stanza.toString(), e.meta.sid, e.meta.acceptedAt]), [
    [1n, st('m1').toString(), 'm1', 1_001],
    [2n, st('m2').toString(), 'm2', 1_002],
    [3n, st('m3').toString(), 'm3', 1_003],
    [5n, st('m5').toString(), 'm5', 1_005],
  ]);
  t.deepEqual(sp.inboundPending('shore').map((e) => [e.id, e.stanza.toString()]), [
    [7n, Buffer.concat([st('i1'), st('i2')]).toString()],
    [8n, st('i3').toString()],
  ]);
  t.is(sp.nextId('shore'), 6n);
  t.is(sp.nextGroupId('shore'), 2n);
  t.is(sp.deliveredUpTo('shore'), 8n);

  // Acknowledging the old link message reads its member list from disk.
  await sp.ackGroup('shore', 1n);
  t.deepEqual(sp.pending('shore').map((e) => e.id), [3n, 5n], 'its stanzas went with it');
  t.is(metrics.get('spool_acked_total', { link: 'shore' }), 2);
  await sp.handedOver('shore', 7n);
  t.is(await sp.accept('shore', st('m6'), meta('m6')), 6n);
  const [gid] = await sp.assignGroups('shore', [{ ids: [3n, 6n], stanza: Buffer.concat([st('m3'), st('m6')]), priority: 'low' }]);
  t.true(await sp.receive('shore', 9n, st('i5'), undefined, [{ length: st('i5').length, head: head('i5') }]));
  await sp.close();

  sp = Spool.open(dir, limits);
  t.teardown(() => sp.close());
  t.deepEqual(sp.recover('shore').damaged, [], 'the damaged records were taken out, once');
  t.deepEqual(sp.pending('shore').map((e) => [e.id, e.stanza.toString()]), [[3n, st('m3').toString()], [5n, st('m5').toString()], [6n, st('m6').toString()]]);
  t.deepEqual(sp.groups('shore').map((g) => [g.gid, g.ids, g.priority, g.stanza.toString()]), [[gid, [3n, 6n], 'low', Buffer.concat([st('m3'), st('m6')]).toString()]]);
  t.deepEqual(sp.inboundPending('shore').map((e) => e.id), [8n, 9n]);
});

test('records written after the upgrade are in the binary layout; old and new ones sit side by side', async (t) => {
  const dir = tempDir(t);
  await oldSpool(dir);
  const sp = Spool.open(dir, limits);
  sp.recover('shore');
  await sp.accept('shore', st('m6'), meta('m6'));
  await sp.assignGroups('shore', [{ ids: [6n], stanza: st('m6'), priority: 'high' }]);
  await sp.receive('shore', 9n, st('i5'));
  await sp.close();
  const env = open({ path: dir, noSubdir: false, readOnly: true, maxDbs: 8 });
  try {
    const first = (db: string, id: bigint) => env.openDB<Buffer, Buffer>(db, { keyEncoding: 'binary', encoding: 'binary' }).getBinary(keyOf('shore', id))?.subarray(0, 3).toString('hex');
    t.is(first('out', 6n), 'c1016f', 'magic 0xc1, layout 1, outbound');
    t.is(first('groups', 2n), 'c10167');
    t.is(first('in', 9n), 'c10169');
    t.not(first('out', 3n)?.slice(0, 2), 'c1', 'an old record stays as it was until it goes');
  } finally {
    await env.close();
  }
  const report = inspectSpool(dir);
  t.deepEqual(report.links.map((l) => [l.link, l.outbound, l.messages, l.inbound, l.unchecked, l.damaged.length]), [['shore', 5, 2, 3, 1, 0]]);
});

/**
 * A damaged spool on disk (real lmdb files, edited while the spool is closed):
 * no altered bytes are handed out, damaged records are named with their
 * sender for a bounce, and a spool lmdb cannot read safely is moved aside
 * for a fresh one, loudly.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Spool, inspectSpool } from '../../src/spool/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { changeByteIn, crossFreeListRoot, flipMetaByte, rootPageOf, smashPage } from '../helpers/lmdb-damage.ts';

const limits = { maxBytes: 1 << 24, maxStanzas: 100_000 };

function tempDir(t: { teardown(fn: () => void): void }): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'satrelay-damage-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return { root, dir: join(root, 'spool') };
}

/** A logger whose JSON lines land in `lines`. */
function capture(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) });
  return { logger: pino({ level: 'info' }, sink), lines };
}

const stanza = (id: string, body: string) => Buffer.from(`<message from="alice@a.example/r" to="bob@b.example" id="${id}" type="chat"><body>${body}</body></message>`);
const meta = (id: string) => ({ priority: 'high' as const, from: 'alice@a.example/r', to: 'bob@b.example', acceptedAt: Date.now(), kind: 'message', sid: id, type: 'chat' });

test('one wrong letter in a stored stanza: never handed out; recover() names it with its sender, once', async (t) => {
  const { dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  await sp.accept('shore', stanza('m1', 'Hello Bob, the ship is fine'), meta('m1'));
  await sp.accept('shore', stanza('m2', 'second message'), meta('m2'));
  await sp.close();
  t.true(changeByteIn(dir, 'Hello Bob', 6, 'R') >= 1, 'the stored copy changed');

  const metrics = new Metrics();
  const { logger, lines } = capture();
  sp = Spool.open(dir, { ...limits, metrics, logger });
  t.deepEqual(sp.pending('shore').map((e) => e.meta.sid), ['m2'], 'the altered stanza is not handed out');
  t.false(sp.pending('shore').some((e) => e.stanza.includes('Hello Rob')), 'no altered bytes');
  const r = sp.recover('shore');
  t.deepEqual(r.damaged, [{ store: 'out', id: 1n, head: { kind: 'message', id: 'm1', from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat' } }]);
  t.is(metrics.get('spool_damaged_records_total', { store: 'out' }), 1);
  t.true(lines.some((l) => l.level === 50 && String(l.msg).includes('damaged') && l.id === '1'), 'an error line names the record');
  t.is(sp.stats('shore').outboundCount, 1);
  await sp.close();

  sp = Spool.open(dir, limits);
  t.teardown(() => sp.close());
  t.deepEqual(sp.recover('shore').damaged, [], 'removed durably: reported once');
  t.deepEqual(sp.pending('shore').map((e) => e.meta.sid), ['m2']);
});

test('an inbound message with one damaged stanza: the others stay, the damaged one is named with its sender', async (t) => {
  const { dir } = tempDir(t);
  const parts = [stanza('i1', 'first part'), stanza('i2', 'Second part here'), stanza('i3', 'third part')];
  const heads = parts.map((p, i) => ({ length: p.length, head: { kind: 'message', id: `i${i + 1}`, from: 'alice@a.example/r', to: 'bob@b.example' } }));
  let sp = Spool.open(dir, limits);
  t.true(await sp.receive('ship', 7n, Buffer.concat(parts), undefined, heads));
  await sp.close();
  t.true(changeByteIn(dir, 'Second part', 1, 'a') >= 1);

  sp = Spool.open(dir, limits);
  t.teardown(() => sp.close());
  t.deepEqual(sp.inboundPending('ship'), [], 'nothing handed out before recover()');
  const r = sp.recover('ship');
  t.deepEqual(r.damaged, [{ store: 'in', id: 7n, head: heads[1].head }]);
  const left = sp.inboundPending('ship');
  t.is(left.length, 1);
  t.is(left[0].stanza.toString(), Buffer.concat([parts[0], parts[2]]).toString(), 'the intact stanzas, unaltered');
  t.deepEqual(sp.deliveredAbove('ship'), [7n], 'still counted as received: the partner does not send it again');
});

test('a broken markup byte in a stored link message: rebuilt under its id from the intact stanzas; a damaged member is named', async (t) => {
  const { dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  const texts = ['alpha text', 'Bravo text', 'charlie text'];
  const ids: bigint[] = [];
  for (const [i, b] of texts.entries()) ids.push(await sp.accept('shore', stanza(`p${i}`, b), meta(`p${i}`)));
  const packed = Buffer.concat(texts.map((b, i) => stanza(`p${i}`, b)));
  const [gid] = await sp.assignGroups('shore', [{ ids, stanza: packed, priority: 'high' }]);
  await sp.close();
  // Only the packed copy has one stanza's end next to the next one's start.
  t.true(changeByteIn(dir, '</message><message', 10, '[') >= 2, 'both stanza boundaries of the link message broken');
  t.true(changeByteIn(dir, 'Bravo text', 0, 'D') >= 2, 'the second stanza damaged in both copies');

  sp = Spool.open(dir, limits);
  t.teardown(() => sp.close());
  const r = sp.recover('shore');
  t.is(r.rebuilt, 1);
  t.deepEqual(r.damaged.map((d) => [d.store, d.id, d.head?.id]), [['out', ids[1], 'p1']]);
  const groups = sp.groups('shore');
  t.deepEqual(groups.map((g) => [g.gid, g.ids]), [[gid, [ids[0], ids[2]]]], 'same link message id, intact members only');
  t.is(groups[0].stanza.toString(), Buffer.concat([stanza('p0', 'alpha text'), stanza('p2', 'charlie text')]).toString());
});

test('a flipped byte in the meta page: moved aside with a loud line and a metric; a fresh spool whose message ids restart above any used', async (t) => {
  const { root, dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  await sp.accept('shore', stanza('m1', 'held'), meta('m1'));
  await sp.assignGroups('shore', [{ ids: [1n], stanza: stanza('m1', 'held'), priority: 'high' }]);
  await sp.close();
  flipMetaByte(dir, 24 + 1, 0x10); // the magic number: lmdb dies of SIGSEGV opening this

  const metrics = new Metrics();
  const { logger, lines } = capture();
  const before = BigInt(Date.now()) * 1000n;
  sp = Spool.open(dir, { ...limits, metrics, logger, labels: { link: 'shore' } });
  t.teardown(() => sp.close());
  const aside = readdirSync(root).filter((f) => f.startsWith('spool.corrupt-'));
  t.is(aside.length, 1, 'moved to spool.corrupt-<time>');
  t.true(existsSync(join(root, aside[0], 'data.mdb')));
  t.regex(readFileSync(join(root, aside[0], 'REASON.txt'), 'utf8'), /magic/);
  t.is(metrics.get('spool_quarantined_total', { link: 'shore' }), 1);
  t.true(lines.some((l) => l.level === 50 && String(l.msg).startsWith('SPOOL DAMAGED') && l.moved_to === join(root, aside[0])));
  t.is(sp.stats().outboundCount, 0, 'a fresh spool');
  t.true(sp.nextGroupId('shore') > before, 'link message ids restart above any the partner has seen');
  const id = await sp.accept('shore', stanza('m2', 'after'), meta('m2'));
  t.is(sp.pending('shore')[0].id, id, 'and it works');
});

test('64 random bytes over a page of stored stanzas: moved aside, fresh spool', async (t) => {
  const { root, dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  for (let i = 0; i < 200; i++) await sp.accept('shore', stanza(`m${i}`, `body ${i} ${'x'.repeat(100)}`), meta(`m${i}`));
  await sp.close();
  smashPage(dir, rootPageOf(dir, 'out'), 24, 64, 7); // the root's node index
  const metrics = new Metrics();
  sp = Spool.open(dir, { ...limits, metrics });
  t.teardown(() => sp.close());
  t.is(readdirSync(root).filter((f) => f.startsWith('spool.corrupt-')).length, 1);
  t.is(metrics.get('spool_quarantined_total'), 1);
  t.is(sp.stats().outboundCount, 0);
});

test('a spool set aside whose records lmdb can still read: what it held comes back from recover(), never-sent stanzas with their senders', async (t) => {
  const { root, dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await sp.accept('shore', stanza(`m${i}`, `held ${i}`), meta(`m${i}`)));
  await sp.assignGroups('shore', [{ ids: [ids[0]], stanza: stanza('m0', 'held 0'), priority: 'high' }]);
  const head = { kind: 'message', id: 'i1', from: 'bob@b.example', to: 'alice@a.example' };
  await sp.receive('shore', 5n, stanza('i1', 'inbound'), undefined, [{ length: stanza('i1', 'inbound').length, head }]);
  await sp.close();
  crossFreeListRoot(dir); // a structural finding that leaves every record readable

  sp = Spool.open(dir, limits);
  t.teardown(() => sp.close());
  t.is(readdirSync(root).filter((f) => f.startsWith('spool.corrupt-')).length, 1);
  const got = sp.recover('shore').damaged;
  t.deepEqual(
    got.map((d) => [d.store, d.id, d.head?.id, d.sent ?? false]),
    [
      ['out', 1n, 'm0', true],
      ['out', 2n, 'm1', false],
      ['out', 3n, 'm2', false],
      ['in', 5n, 'i1', false],
    ],
    'm0 was in a link message (it may have arrived); the others are bounced',
  );
  t.deepEqual(sp.recover('shore').damaged, [], 'handed out once');
});

test('inspectSpool lists per link what a spool holds and which records are damaged, changing nothing', async (t) => {
  const { dir } = tempDir(t);
  let sp = Spool.open(dir, limits);
  await sp.accept('shore', stanza('m1', 'Hello Bob'), { ...meta('m1'), acceptedAt: 1_000 });
  await sp.accept('shore', stanza('m2', 'fine'), { ...meta('m2'), acceptedAt: 2_000 });
  await sp.accept('ship-2', stanza('m3', 'other link'), meta('m3'));
  await sp.receive('ship-2', 4n, stanza('i4', 'in'));
  await sp.close();
  changeByteIn(dir, 'Hello Bob', 6, 'R');
  const before = readFileSync(join(dir, 'data.mdb'));
  const r = inspectSpool(dir);
  t.is(r.problem, undefined);
  t.deepEqual(
    r.links.map((l) => [l.link, l.outbound, l.inbound, l.damaged]),
    [
      ['ship-2', 1, 1, []],
      ['shore', 1, 0, [{ store: 'out', id: '1', sender: 'alice@a.example/r' }]],
    ],
  );
  t.is(r.links[1].oldestAcceptedAt, 2_000);
  t.true(readFileSync(join(dir, 'data.mdb')).equals(before), 'read only');
});

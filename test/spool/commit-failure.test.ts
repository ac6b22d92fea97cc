/**
 * A failed group commit (a write lmdb refuses inside the transaction aborts
 * it): every write of the batch and every write queued behind it fails, the
 * writes' undos run newest first before any caller hears of it, and the next
 * batch commits as usual.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { GroupCommit } from '../../src/spool/commit.ts';
import { Spool } from '../../src/spool/index.ts';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-commit-fail-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const tooLong = Buffer.alloc(4096, 1); // above lmdb's key limit: the put throws inside the transaction

test('a refused write fails its whole batch and the one behind it; undos run newest first, once', async (t) => {
  const env = open({ path: tempDir(t), noSubdir: false, maxDbs: 4, eventTurnBatching: false });
  t.teardown(() => env.close());
  const db = env.openDB<Buffer, Buffer>('x', { keyEncoding: 'binary', encoding: 'binary' });
  const events: string[] = [];
  const gc = new GroupCommit(env, { committed: (n) => void events.push(`committed ${n}`), failed: () => void events.push('failed') });
  const w = (name: string, key: Buffer) => gc.add({ db, key, value: Buffer.from(name), bytes: 0, undo: () => void events.push(`undo ${name}`), done: () => void events.push(`done ${name}`) });
  const first = [w('a', Buffer.from('a')), w('b', tooLong), w('c', Buffer.from('c'))];
  const results = await Promise.allSettled(first);
  t.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  t.deepEqual(events, ['failed', 'undo c', 'undo b', 'undo a']);
  t.is(db.getBinary(Buffer.from('a')), undefined, 'nothing of the batch is on disk');
  events.length = 0;
  await w('d', Buffer.from('d'));
  t.deepEqual(events, ['done d', 'committed 1']);
  t.deepEqual(db.getBinary(Buffer.from('d')), Buffer.from('d'));
});

test('two assignGroups in a failed batch both give their link message ids back', async (t) => {
  const sp = Spool.open(tempDir(t), { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => sp.close());
  const id = await sp.accept('shore', Buffer.from('<a/>'), { priority: 'high', acceptedAt: 1 });
  const one = sp.assignGroups('shore', [{ ids: [id], stanza: Buffer.from('<a/>'), priority: 'high' }]);
  const two = sp.assignGroups('shore', [{ ids: [id], stanza: Buffer.from('<a/>'), priority: 'high' }, { ids: [id], stanza: Buffer.from('<a/>'), priority: 'low' }]);
  // A write lmdb refuses, in the same batch.
  const commits = (sp as unknown as { commits: GroupCommit }).commits;
  const bad = commits.add({ bytes: 0, apply: () => void (sp as unknown as { grp: { put(k: Buffer, v: Buffer): void } }).grp.put(tooLong, Buffer.from('x')) });
  const r = await Promise.allSettled([one, two, bad]);
  t.deepEqual(r.map((x) => x.status), ['rejected', 'rejected', 'rejected']);
  t.is(sp.nextGroupId('shore'), 1n, 'ids 1..3 given back: the link message ids stay contiguous');
  t.deepEqual(await sp.assignGroups('shore', [{ ids: [id], stanza: Buffer.from('<a/>'), priority: 'high' }]), [1n]);
  await sp.ackGroup('shore', 1n);
  t.deepEqual(sp.groups('shore'), []);
  t.is(sp.stats('shore').outboundCount, 0, 'the acknowledged message took its stanza with it');
});

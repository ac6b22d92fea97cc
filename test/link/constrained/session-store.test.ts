/** The link state file: sessions only grow, stored before use; damage, a new key and a failing disk. */
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { SessionStore, SessionStoreError } from '../../../src/link/constrained/session-store.ts';

const KEY = createHash('sha256').update('session-store').digest();

function setup(t: { teardown: (f: () => void) => void }): { dir: string; file: string; lines: Array<{ level: number; msg: string }>; log: pino.Logger } {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { dir, file: join(dir, 'link-state', 'shore.json'), lines, log: pino({ level: 'info' }, sink) };
}

/** A clock set to 2026-12-03 plus `s` seconds. */
const at = (s: number) => ({ random: randomBytes, nowMs: Date.UTC(2026, 11, 3) + s * 1000 });
const unsetClock = { random: randomBytes, nowMs: 0 };

test('each start takes the next session and stores it before use; the partner\'s session survives restarts', (t) => {
  const { file, lines, log } = setup(t);
  const first = SessionStore.begin(file, KEY, unsetClock, log);
  t.is(first.fresh, 'no_file');
  t.true(first.state.local >= 1 && first.state.local <= 2 ** 31, 'a random session when the clock is unset');
  t.true(lines.some((l) => l.msg.includes('no link state yet')));
  t.is(JSON.parse(readFileSync(file, 'utf8')).local, first.state.local, 'on disk before the link uses it');
  first.store.savePeer(17, true);
  const second = SessionStore.begin(file, KEY, unsetClock, log);
  t.is(second.fresh, undefined);
  t.deepEqual(second.state, { local: first.state.local + 1, previous: first.state.local, peer: 17, peerV2: true });
  const third = SessionStore.begin(file, KEY, unsetClock, log);
  t.is(third.state.local, first.state.local + 2);
});

test('sessions follow the clock, never go back, and a reinstalled relay starts above every session it used', (t) => {
  const { dir, file, log } = setup(t);
  const t0 = at(0).nowMs / 1000;
  const runs = [0, 0, 0, 60, 59].map((s) => SessionStore.begin(file, KEY, at(s), log).state.local);
  // Three starts within one second count up; a clock set back never lowers the number.
  t.deepEqual(runs, [t0, t0 + 1, t0 + 2, t0 + 60, t0 + 61]);
  // The data_dir is lost: a day later the fresh install starts above all of them.
  rmSync(join(dir, 'link-state'), { recursive: true });
  const fresh = SessionStore.begin(file, KEY, at(86_400), log);
  t.is(fresh.fresh, 'no_file');
  t.true(fresh.state.local > Math.max(...runs));
});

test('a damaged file is moved aside with a log line; a new key clears the partner\'s record, not the count', (t) => {
  const { dir, file, lines, log } = setup(t);
  const a = SessionStore.begin(file, KEY, at(1), log);
  a.store.savePeer(40, true);
  const other = createHash('sha256').update('another key').digest();
  const b = SessionStore.begin(file, other, unsetClock, log);
  t.is(b.fresh, 'key_changed');
  t.deepEqual({ local: b.state.local, peer: b.state.peer, peerV2: b.state.peerV2 }, { local: a.state.local + 1, peer: 0, peerV2: false });
  writeFileSync(file, '{"format":1,"key":"x","local":');
  const c = SessionStore.begin(file, other, unsetClock, log);
  t.is(c.fresh, 'unreadable');
  t.true(readdirSync(join(dir, 'link-state')).some((f) => f.startsWith('shore.json.corrupt-')));
  t.true(lines.some((l) => l.level === 50 && l.msg.includes('damaged')));
  t.true(existsSync(file));
});

test('a session that cannot be stored is not used: a clear error', (t) => {
  const { dir, log } = setup(t);
  writeFileSync(join(dir, 'not-a-dir'), '');
  const err = t.throws(() => SessionStore.begin(join(dir, 'not-a-dir', 'shore.json'), KEY, at(0), log), { instanceOf: SessionStoreError });
  t.regex(err!.message, /cannot (store|read) the link (session|state)/);
});

test('without a file, two runs within one second still take growing sessions', (t) => {
  const { log } = setup(t);
  const key = createHash('sha256').update('no file').digest();
  const runs = [0, 0, 0].map(() => SessionStore.begin(undefined, key, at(5), log).state.local);
  t.true(runs[0] >= at(5).nowMs / 1000);
  t.deepEqual(runs, [runs[0], runs[0] + 1, runs[0] + 2]);
});

/**
 * The operator is told a key mismatch (every frame fails, nothing authentic)
 * from an attack (forged frames while the partner's frames authenticate), and
 * a restart's late frames from neither. Simulated time (core pair harness);
 * the watch ticks every 5 s as in the relay.
 */
import test from 'ava';
import { Writable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { AuthWatch } from '../../../src/link/constrained/auth-watch.ts';
import { Pair, type Side } from '../core/pair.ts';

const BEARER = { latencyMs: 300, rateBps: 64_000 };

function logSink(): { log: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  return { log: pino({ level: 'info' }, sink), lines };
}

/** The partner heard within link_down_after_s, by the events of the side's current run (from index `since`). */
const isUp = (s: Side, since = 0): boolean => s.events.slice(since).filter((e) => e.type === 'up' || e.type === 'down').at(-1)?.type === 'up';

/** Drives `ms` of simulated time, ticking the watch every 5 s; `each10ms` may inject frames. */
function watchFor(p: Pair, side: Side, watch: AuthWatch, ms: number, each10ms?: () => void): void {
  const end = p.now + ms;
  let nextTick = p.now + 5000;
  while (p.now < end) {
    p.driveUntil(() => false, 10);
    each10ms?.();
    if (p.now >= nextTick) { watch.tick(p.now, isUp(side), side.ep.stats()); nextTick += 5000; }
  }
}

const chat = (i: number) => `<message type="chat" from="alice@a.example/x" to="bob@b.example" id="w${i}"><body>${i}</body></message>`;

test('forged frames while the partner is heard: an attack, counted, not a key mismatch', (t) => {
  const p = new Pair({ seed: 1901, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 2 } });
  const { log, lines } = logSink();
  const watch = new AuthWatch({ name: '', metrics: p.b.metrics, log, keyId: 'k1' });
  for (let i = 0; i < 50; i++) p.a.submit(chat(i));
  let forged = 0;
  const frame = (): Buffer => { const f = randomBytes(80); f[0] = 0xa0; f.writeUInt32BE(p.a.ep.epoch, 1); f[5] = 0x7f; return f; };
  watchFor(p, p.b, watch, 30_000, () => { for (let j = 0; j < 10; j++, forged++) p.b.ep.handleFrame(p.now, frame()); });
  t.is(p.b.received.length, 50);
  t.is(p.b.metrics.get('link_frames_dropped_total', { reason: 'auth' }), forged);
  t.is(p.b.metrics.get('link_forged_frames_total'), forged, 'every forged frame counted as such');
  t.is(p.b.metrics.get('link_key_mismatch'), 0);
  const warned = lines.filter((l) => l.level === 40);
  t.true(warned.some((l) => l.msg.includes('forged or corrupted frames')));
  t.false(warned.some((l) => l.msg.includes('key_file')));
  t.true(warned.length <= 1, `at most one line a minute: ${warned.length}`);
});

test('frames that never authenticate: a key mismatch, not an attack', (t) => {
  const p = new Pair({ seed: 1902, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 2 } });
  const other = new Pair({ seed: 1902, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 2 }, key: createHash('sha256').update('another key').digest() });
  p.b.ep = other.b.ep; // b holds another key
  const { log, lines } = logSink();
  const watch = new AuthWatch({ name: '', metrics: other.b.metrics, log, keyId: 'k2' });
  for (let i = 0; i < 5; i++) p.a.submit(chat(i));
  watchFor(p, p.b, watch, 20_000);
  t.is(p.b.received.length, 0);
  t.is(other.b.metrics.get('link_key_mismatch'), 1);
  t.is(other.b.metrics.get('link_forged_frames_total'), 0);
  const warned = lines.filter((l) => l.level === 40);
  t.true(warned.some((l) => l.msg.includes('do both ends hold the same key_file')));
  t.false(warned.some((l) => l.msg.includes('forged or corrupted')));
});

test('a restart of the receiver: the partner\'s frames to its previous run are not taken for forged ones', (t) => {
  const p = new Pair({ seed: 1903, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 2 } });
  const { log, lines } = logSink();
  for (let i = 0; i < 200; i++) p.a.submit(chat(i));
  p.drive(600); // frames in flight
  p.b.restart(p.now);
  const watch = new AuthWatch({ name: '', metrics: p.b.metrics, log, keyId: 'k3' });
  watchFor(p, p.b, watch, 20_000);
  t.true(p.idle());
  t.true(p.b.metrics.get('link_frames_dropped_total', { reason: 'stale_session' }) > 0, 'late frames to the previous run were seen');
  t.is(p.b.metrics.get('link_frames_dropped_total', { reason: 'auth' }), 0);
  t.false(lines.some((l) => l.level === 40), 'no warning');
});

test('a relay that lost its link state: both logs say so; after the documented reset of the partner\'s state the link carries everything', (t) => {
  const p = new Pair({ seed: 1904, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 2 } });
  for (let i = 0; i < 10; i++) p.a.submit(chat(i));
  t.true(p.driveUntil(() => p.idle()));
  // b is reinstalled with the same key: no link state, and its random session falls below what a stored.
  Object.assign(p.b.sessions, { local: 5, previous: undefined, peer: 0, peerV2: false });
  p.b.restart(p.now);
  const bRun = p.b.events.length;
  const la = logSink();
  const lb = logSink();
  const wa = new AuthWatch({ name: '', metrics: p.a.metrics, log: la.log, keyId: 'k4' });
  const wb = new AuthWatch({ name: '', metrics: p.b.metrics, log: lb.log, keyId: 'k4', fresh: 'no_file' });
  const back = (i: number) => `<message type="chat" from="bob@b.example/y" to="alice@a.example" id="r${i}"><body>${i}</body></message>`;
  for (let i = 0; i < 10; i++) p.b.submit(back(i));
  const end = p.now + 30_000;
  for (let next = p.now + 5000; p.now < end; next += 5000) {
    p.driveUntil(() => false, next - p.now);
    wa.tick(p.now, isUp(p.a), p.a.ep.stats());
    wb.tick(p.now, isUp(p.b, bRun), p.b.ep.stats());
  }
  t.is(p.a.received.length, 0, 'the partner refuses the reinstalled relay');
  t.true(la.lines.some((l) => l.level === 40 && l.msg.includes('below one accepted before')), 'the partner names the cause');
  t.true(lb.lines.some((l) => l.level === 40 && l.msg.includes('started without its link state')), 'the reinstalled relay points to the guide');
  // The operator deletes data_dir/link-state/<link>.json on the partner and restarts it.
  Object.assign(p.a.sessions, { local: 77, previous: undefined, peer: 0, peerV2: false });
  p.a.restart(p.now);
  t.true(p.driveUntil(() => p.idle(), 600_000));
  t.deepEqual(p.a.received.map((r) => r.id), Array.from({ length: 10 }, (_, i) => BigInt(i + 1)));
  t.deepEqual(p.a.duplicates, []);
});

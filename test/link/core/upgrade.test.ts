/**
 * Upgrading a running link from link protocol v1 (docs/link-protocol.md §7.2):
 * one end, then the other, while stanzas flow both ways. A v1 end is the
 * endpoint with `session.v1Only` (v1 frames only, v2 frames malformed to it,
 * as the release before sessions). Simulated time.
 */
import test from 'ava';
import { Pair, type Side } from './pair.ts';

const BEARER = { latencyMs: 300, rateBps: 64_000, loss: 0.02 };
const msg = (s: Side, i: number): string =>
  s.name === 'a'
    ? `<message type="chat" from="alice@a.example/x" to="bob@b.example" id="u${i}"><body>up ${i}</body></message>`
    : `<message type="chat" from="bob@b.example/y" to="alice@a.example" id="u${i}"><body>up ${i}</body></message>`;

/** An upgrade of `s`: a restart of the new version on a data_dir without link state. */
function upgrade(p: Pair, s: Side): void {
  Object.assign(s.sessions, { local: 7000 + s.restarts, previous: undefined, peer: 0, peerV2: false, v1Only: false });
  s.sessions.local -= 1; // restart() takes the next one
  s.restart(p.now);
}

test('upgrade of one end then the other while stanzas flow: nothing lost or doubled, both end on v2, old frames then refused', (t) => {
  const p = new Pair({ seed: 1801, ab: BEARER, ba: BEARER });
  for (const s of [p.a, p.b]) { s.sessions.v1Only = true; s.restart(p.now); }
  const v1Frames: Buffer[] = [];
  p.taps.push((to, f) => { if (to === p.b && f[0] >> 6 === 1) v1Frames.push(Buffer.from(f)); });
  let n = 0;
  const load = (k: number): void => { for (let i = 0; i < k; i++, n++) { p.a.submit(msg(p.a, n)); p.b.submit(msg(p.b, n)); } };
  load(30);
  p.drive(800); // mid-transfer
  upgrade(p, p.a);
  load(30);
  t.true(p.driveUntil(() => p.idle(), 600_000), 'new a and old b carry everything');
  t.is(p.a.ep.stats().wireVersion, 1, 'a talks v1 to the old partner');
  t.true(p.a.events.some((e) => e.type === 'partner_version' && e.version === 1));
  load(30);
  p.drive(800);
  upgrade(p, p.b);
  load(30);
  t.true(p.driveUntil(() => p.idle(), 600_000), 'both upgraded');
  for (const s of [p.a, p.b]) {
    t.is(s.ep.stats().wireVersion, 2, `${s.name} talks v2`);
    t.true(s.sessions.peerV2 === true && (s.sessions.peer ?? 0) > 0, `${s.name} stored the partner's session`);
    t.deepEqual(s.duplicates, [], `${s.name}: nothing doubled`);
  }
  t.is(new Set(p.b.received.map((r) => r.id)).size, n, 'every stanza a sent arrived');
  t.is(new Set(p.a.received.map((r) => r.id)).size, n, 'every stanza b sent arrived');
  // v1 frames from before the upgrade are refused before any AEAD now.
  const taken = p.b.ep.stats().framesReceived;
  for (const f of v1Frames) t.false(p.b.ep.handleFrame(p.now, f));
  t.is(p.b.ep.stats().framesReceived, taken);
  t.is(p.b.metrics.get('link_frames_dropped_total', { reason: 'old_version' }), v1Frames.length);
});

test('two upgraded ends that never met are not talked down to v1 by replayed v1 frames', (t) => {
  // Recorded v1 frames of an earlier link (same key), replayed to both new ends before they hear each other.
  const old = new Pair({ seed: 1802, ab: BEARER, ba: BEARER });
  for (const s of [old.a, old.b]) { s.sessions.v1Only = true; s.restart(old.now); }
  const rec: { a: Buffer[]; b: Buffer[] } = { a: [], b: [] };
  old.taps.push((to, f) => rec[to === old.b ? 'a' : 'b'].push(Buffer.from(f)));
  for (let i = 0; i < 10; i++) { old.a.submit(msg(old.a, i)); old.b.submit(msg(old.b, i)); }
  t.true(old.driveUntil(() => old.idle()));

  const p = new Pair({ seed: 1802, ab: BEARER, ba: BEARER, tuning: { keepaliveS: 30 } });
  for (const f of rec.a) p.b.ep.handleFrame(0, f);
  for (const f of rec.b) p.a.ep.handleFrame(0, f);
  for (let i = 0; i < 20; i++) { p.a.submit(msg(p.a, i)); p.b.submit(msg(p.b, i)); }
  t.true(p.driveUntil(() => p.idle() && p.a.ep.stats().wireVersion === 2 && p.b.ep.stats().wireVersion === 2, 120_000), 'both on v2 within a keepalive period');
  t.true(p.a.sessions.peerV2 === true && p.b.sessions.peerV2 === true);
  t.deepEqual([p.a.duplicates, p.b.duplicates], [[], []]);
  t.is(new Set(p.b.received.map((r) => r.id)).size, 20);
  t.is(new Set(p.a.received.map((r) => r.id)).size, 20);
});

test('a v1 frame that fails authentication is never reported as taken, even when it makes a v1 announce due', (t) => {
  // A roaming driver answers at the source of frames handleFrame reports as taken (true): a forged or
  // foreign v1 frame must report false, or 'poll' when the end should send its v1 announce now.
  const old = new Pair({ seed: 1803, ab: BEARER, ba: BEARER });
  for (const s of [old.a, old.b]) { s.sessions.v1Only = true; s.restart(old.now); }
  const bound: Buffer[] = [];
  old.taps.push((to, f) => { if (to === old.b && (f[0] & 0x20) !== 0) bound.push(Buffer.from(f)); });
  for (let i = 0; i < 5; i++) old.a.submit(msg(old.a, i));
  t.true(old.driveUntil(() => old.idle()));
  t.true(bound.length > 0, 'frames bound to the old b were recorded');

  const p = new Pair({ seed: 1803, ab: BEARER, ba: BEARER });
  const results = bound.map((f) => p.b.ep.handleFrame(0, f));
  t.false(results.includes(true), `results: ${results.join(', ')}`);
  t.true(results.includes('poll'), 'the v1 announce is due: the driver is asked to poll');
  t.is(p.b.ep.stats().framesReceived, 0);
});

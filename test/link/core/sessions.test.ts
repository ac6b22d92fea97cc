/**
 * Frames of earlier link sessions, replayed (docs/link-protocol.md §7): they
 * must change nothing and cost no resync, including after a restart of either
 * end. Each scenario runs twice on simulated time, with and without the
 * injection, and the two runs must be the same.
 */
import test, { type ExecutionContext } from 'ava';
import { Pair, type Side } from './pair.ts';

const BEARER = { latencyMs: 300, rateBps: 64_000 };
const msg = (tag: string, i: number, from = 'alice@a.example/x', to = 'bob@b.example'): string =>
  `<message type="chat" from="${from}" to="${to}" id="${tag}${i}"><body>${tag} ${i}</body></message>`;
const back = (tag: string, i: number): string => msg(tag, i, 'bob@b.example/y', 'alice@a.example');

/** Every frame each side received, per run of its sender: runs[side][run] = frames. */
interface Recording { a: Buffer[][]; b: Buffer[][] }

function record(p: Pair): Recording {
  const rec: Recording = { a: [[]], b: [[]] };
  p.taps.push((to, f) => {
    const from = to === p.b ? 'a' : 'b';
    rec[from][p[from].restarts].push(Buffer.from(f));
  });
  return rec;
}

function restart(p: Pair, rec: Recording, who: 'a' | 'b'): void {
  p[who].restart(p.now);
  rec[who][p[who].restarts] = [];
}

/** What a run of the pair produced, for comparing an injected run with a clean one. */
function outcome(p: Pair): unknown {
  const side = (s: Side) => ({
    received: s.received.map((r) => `${r.id}@${r.at}`),
    events: s.events.map((e) => e.type),
    duplicates: s.duplicates.map(String),
    acked: s.ackedIds.map(String),
    framesReceived: s.ep.stats().framesReceived,
    resets: s.metrics.get('link_stream_resets_total'),
  });
  return { now: p.now, a: side(p.a), b: side(p.b) };
}

/** Drives on a 10 ms grid until `done`; every step `inject` may hand frames straight to an endpoint. */
function driveGrid(p: Pair, done: () => boolean, maxMs: number, inject?: (step: number) => void): boolean {
  const end = p.now + maxMs;
  for (let step = 0; p.now < end; step++) {
    if (done()) return true;
    p.driveUntil(() => false, 10);
    inject?.(step);
  }
  return done();
}

function burstUnderReplay(inject: boolean): { p: Pair; injected: number; history: number; burstMs: number } {
  const p = new Pair({ seed: 1701, ab: BEARER, ba: BEARER });
  const rec = record(p);
  // 20 earlier runs of a, each with one stanza and an idle link after it.
  for (let r = 0; r < 20; r++) {
    p.a.submit(msg('run', r));
    p.driveUntil(() => p.idle());
    p.drive(1000);
    restart(p, rec, 'a');
  }
  const firsts = rec.a.slice(0, 20).map((run) => run[0]);
  const t0 = p.now;
  for (let i = 0; i < 300; i++) p.a.submit(msg('burst', i));
  let injected = 0;
  // Two recorded first frames every 10 ms (200 a second), in rotation, as if from a's address.
  const ok = driveGrid(p, () => p.idle() && p.b.received.length === 320, 120_000, inject ? () => {
    for (let j = 0; j < 2; j++) p.b.ep.handleFrame(p.now, firsts[injected++ % firsts.length]);
  } : undefined);
  if (!ok) throw new Error(`burst not delivered (inject ${inject})`);
  return { p, injected, history: firsts.length, burstMs: p.now - t0 };
}

test('first frames of 20 earlier sessions replayed in rotation during a burst: no resync, nothing changes, the burst is on time', (t) => {
  const clean = burstUnderReplay(false);
  const hit = burstUnderReplay(true);
  t.log(`burst of 300: ${clean.burstMs} ms clean, ${hit.burstMs} ms with ${hit.injected} replayed first frames of ${hit.history} earlier sessions`);
  t.true(hit.injected >= 201);
  t.deepEqual(outcome(hit.p), outcome(clean.p), 'the replayed frames changed nothing');
  // Until a's new run is heard, its previous run is the current one: those frames are replays of it.
  const stale = hit.p.b.metrics.get('link_frames_dropped_total', { reason: 'stale_session' });
  t.is(stale + hit.p.b.metrics.get('link_frames_dropped_total', { reason: 'replay' }) - clean.p.b.metrics.get('link_frames_dropped_total', { reason: 'replay' }), hit.injected);
  t.true(stale > hit.injected * 0.9, 'nearly all dropped as an earlier session, before any AEAD');
  t.is(hit.p.b.events.filter((e) => e.type === 'resync').length, 20, 'only the 20 real restarts of a');
  t.deepEqual(hit.p.b.duplicates, []);
});

function receiverRestart(inject: 'none' | 'earlier' | 'current'): { p: Pair; dropped: number } {
  const p = new Pair({ seed: 1702, ab: BEARER, ba: BEARER });
  const rec = record(p);
  p.a.submit(msg('one', 0));
  p.driveUntil(() => p.idle());
  restart(p, rec, 'a'); // a's run 1 is now an earlier session
  p.a.submit(msg('two', 0));
  p.b.submit(back('two', 0));
  p.driveUntil(() => p.idle());
  p.drive(2000);
  restart(p, rec, 'b');
  const frame = inject === 'earlier' ? rec.a[0][0] : inject === 'current' ? rec.a[1][0] : undefined;
  if (frame) {
    const before = p.b.ep.stats();
    p.b.ep.handleFrame(p.now, frame);
    const after = p.b.ep.stats();
    if (after.framesReceived !== before.framesReceived || after.peerEpoch !== undefined || p.b.ep.pollEvent() !== undefined) throw new Error('the old frame was taken');
  }
  for (let i = 0; i < 50; i++) { p.a.submit(msg('after', i)); p.b.submit(back('after', i)); }
  if (!driveGrid(p, () => p.idle() && p.b.received.length === 52 && p.a.received.length === 51, 600_000)) throw new Error('not delivered');
  return { p, dropped: p.b.ep.stats().framesDropped };
}

test('after the receiver restarts, one old first frame (of an earlier or of the current partner session) does nothing', (t) => {
  const clean = receiverRestart('none');
  for (const which of ['earlier', 'current'] as const) {
    const hit = receiverRestart(which);
    t.deepEqual(outcome(hit.p), outcome(clean.p), `${which}: nothing changed`);
    t.is(hit.dropped, clean.dropped + 1, `${which}: dropped and counted`);
    t.is(hit.p.b.metrics.get('link_frames_dropped_total', { reason: which === 'earlier' ? 'stale_session' : 'replay' }) -
      clean.p.b.metrics.get('link_frames_dropped_total', { reason: which === 'earlier' ? 'stale_session' : 'replay' }), 1);
  }
  // b restarted once: a resynchronised once, b did not need to.
  t.is(clean.p.a.events.filter((e) => e.type === 'resync').length, 1);
  t.is(clean.p.b.events.filter((e) => e.type === 'resync').length, 1, 'b: only the restart of a before its own');
});

const SEQUENCE: Array<Array<'a' | 'b'>> = [['a'], ['b'], ['a', 'b'], ['b'], ['b', 'a'], ['a'], ['a'], ['b']];

function restarts(replay: boolean): { p: Pair; replayed: number } {
  const p = new Pair({ seed: 1703, ab: { ...BEARER, loss: 0.02 }, ba: { ...BEARER, loss: 0.02 } });
  const rec = record(p);
  let n = 0;
  let replayed = 0;
  const load = (k: number): void => { for (let i = 0; i < k; i++) { p.a.submit(msg('s', n)); p.b.submit(back('s', n)); n++; } };
  for (const who of SEQUENCE) {
    load(20);
    p.drive(700); // restarts hit mid-transfer
    for (const w of who) restart(p, rec, w);
    load(5);
    if (replay) {
      // Everything recorded so far, both directions, straight after the restart(s).
      for (const run of rec.a) for (const f of run) { p.b.ep.handleFrame(p.now, f); replayed++; }
      for (const run of rec.b) for (const f of run) { p.a.ep.handleFrame(p.now, f); replayed++; }
    }
    if (!p.driveUntil(() => p.idle(), 3_600_000)) throw new Error('not idle');
  }
  return { p, replayed };
}

test('restarts of one end, the other and both, each followed by replay of every frame recorded so far: exactly once, no extra resync', (t) => {
  const clean = restarts(false);
  const hit = restarts(true);
  t.log(`${hit.replayed} frames replayed after ${SEQUENCE.length} restart points`);
  const total = 25 * SEQUENCE.length;
  for (const p of [clean.p, hit.p]) {
    t.deepEqual(p.b.duplicates, []);
    t.deepEqual(p.a.duplicates, []);
    t.is(new Set(p.b.received.map((r) => r.id)).size, total);
    t.is(new Set(p.a.received.map((r) => r.id)).size, total);
  }
  const resyncs = (p: Pair) => p.a.events.filter((e) => e.type === 'resync').length + p.b.events.filter((e) => e.type === 'resync').length;
  t.is(resyncs(hit.p), resyncs(clean.p), 'replays cost no resync');
  t.is(hit.p.a.ep.stats().framesReceived + hit.p.b.ep.stats().framesReceived, clean.p.a.ep.stats().framesReceived + clean.p.b.ep.stats().framesReceived,
    'no replayed frame was taken');
  checkOrder(t, hit.p);
});

function checkOrder(t: ExecutionContext, p: Pair): void {
  for (const s of [p.a, p.b]) {
    const ids = s.received.map((r) => r.id);
    t.true(ids.every((id, i) => i === 0 || id > ids[i - 1]), `${s.name}: delivered in id order`);
  }
}

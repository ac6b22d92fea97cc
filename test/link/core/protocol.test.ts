/** Wire vectors from the spec, hostile input, compression figures, API errors. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { LinkEndpoint, LinkError, StreamDeflater, buildDictionary, nativeAvailable } from '../../../src/link/core/index.ts';
import { nonceOf, open } from '../../../src/link/core/crypto.ts';
import { deriveKeysV2 } from '../../../src/link/core/sealing.ts';
import { decodeHeader } from '../../../src/link/core/wire.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { buildVectors, vectorEndpoint, VECTOR_KEY, VECTOR_STANZA, VECTOR_TUNING } from './vectors.ts';
import { chatCorpus } from './corpus.ts';
import { Pair, DEFAULT_TUNING } from './pair.ts';

const DOC = new URL('../../../docs/link-protocol.md', import.meta.url);

function docVectors(): Map<string, Buffer> {
  const text = readFileSync(DOC, 'utf8');
  const block = /```vectors\n([\s\S]*?)```/.exec(text);
  if (!block) throw new Error('no ```vectors block in docs/link-protocol.md');
  const out = new Map<string, Buffer>();
  for (const line of block[1].split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]+)\s*$/.exec(line);
    if (m) out.set(m[1], Buffer.from(m[2], 'hex'));
  }
  return out;
}

test('test vectors of the spec: encode reproduces them byte for byte', (t) => {
  const doc = docVectors();
  const v = buildVectors();
  t.deepEqual(doc.get('key'), VECTOR_KEY);
  const keys = deriveKeysV2(VECTOR_KEY, 'a');
  t.is(doc.get('key_ab')?.toString('hex'), keys.send.toString('hex'));
  t.is(doc.get('key_ba')?.toString('hex'), keys.recv.toString('hex'));
  for (const name of ['f1', 'f2', 'f3', 'f4'] as const) t.is(doc.get(`${name}.frame`)?.toString('hex'), v[name].toString('hex'), name);
});

test('test vectors of the spec: decode (AEAD open gives the documented plaintext; endpoints accept them, and refuse the earlier session)', (t) => {
  const doc = docVectors();
  const keys = deriveKeysV2(VECTOR_KEY, 'a');
  const cases: Array<[string, Buffer, number | undefined]> = [['f1', keys.send, undefined], ['f2', keys.recv, undefined], ['f3', keys.recv, 0x01020304], ['f4', keys.send, undefined]];
  for (const [name, key, echo] of cases) {
    const frame = doc.get(`${name}.frame`)!;
    const h = decodeHeader(frame);
    t.is(h.version, 2);
    t.is(h.e, echo !== undefined);
    const hdr = frame.subarray(0, h.length);
    const aad = echo === undefined ? hdr : Buffer.concat([hdr, Buffer.from([echo >>> 24, (echo >> 16) & 255, (echo >> 8) & 255, echo & 255])]);
    const plain = open(key, nonceOf(h.session, h.seq), aad, frame.subarray(h.length));
    t.is(plain?.toString('hex'), doc.get(`${name}.plain`)?.toString('hex'), name);
  }
  // f1 into b delivers the stanza; f3 into a acknowledges id 1; f4 (a's earlier session) into b is refused.
  // b inflates with native zlib where this Node allows it (the default): f1 holds pako's deflate output.
  const a = vectorEndpoint('a');
  a.submit(1n, Buffer.from(VECTOR_STANZA), 'high', 0);
  a.pollTransmit(0);
  const b = vectorEndpoint('b', undefined, nativeAvailable ? 'native' : 'pako');
  t.true(b.handleFrame(10, doc.get('f1.frame')!));
  const evs = [...(function* () { for (let e = b.pollEvent(); e; e = b.pollEvent()) yield e; })()];
  const d = evs.find((e) => e.type === 'deliver');
  t.true(d?.type === 'deliver' && d.id === 1n && d.stanza.toString() === VECTOR_STANZA);
  t.deepEqual(evs.find((e) => e.type === 'session'), { type: 'session', peer: 0x01020304, peerV2: true });
  a.handleFrame(80, doc.get('f3.frame')!);
  const aev = [...(function* () { for (let e = a.pollEvent(); e; e = a.pollEvent()) yield e; })()];
  t.true(aev.some((e) => e.type === 'acked' && e.id === 1n));
  t.false(b.handleFrame(90, doc.get('f4.frame')!));
  t.is(b.stats().staleSession, 0x01020303);
  t.is(VECTOR_TUNING.mtu, 256);
});

/** A live pair plus a capture of valid frames a -> b. */
function capture(seed: number): { b: LinkEndpoint; metrics: Metrics; frames: Buffer[] } {
  const p = new Pair({ seed, ab: { latencyMs: 100 } });
  const frames: Buffer[] = [];
  for (const s of chatCorpus(200, seed)) p.a.submit(s);
  const orig = p.b.ep.handleFrame.bind(p.b.ep);
  p.b.ep.handleFrame = (now, f) => { frames.push(Buffer.from(f)); return orig(now, f); };
  p.driveUntil(() => p.idle());
  p.b.ep.handleFrame = orig;
  return { b: p.b.ep, metrics: p.b.metrics, frames };
}

const dropped = (m: Metrics): number => m.get('link_frames_dropped_total');

test('random bytes never throw and are all counted as drops (fast-check, seeded)', (t) => {
  const { b, metrics } = capture(5);
  const seed = 20261123;
  t.log(`fast-check seed ${seed}`);
  let fed = 0;
  const before = dropped(metrics);
  const anyBytes = fc.uint8Array({ minLength: 0, maxLength: 600, size: 'max' });
  // bytes behind a plausible header (version 1, E or not) reach the AEAD check
  const headed = fc.tuple(fc.constantFrom(0x40, 0x60), anyBytes).map(([f, rest]) => Uint8Array.from([f, ...rest]));
  fc.assert(fc.property(fc.oneof(anyBytes, headed), (bytes) => {
    b.handleFrame(1e7, Buffer.from(bytes));
    fed++;
  }), { seed, numRuns: 3000 });
  t.is(dropped(metrics) - before, fed);
  t.log(['auth', 'truncated', 'malformed', 'too_big', 'replay'].map((r) => `${r}=${metrics.get('link_frames_dropped_total', { reason: r })}`).join(' '));
  t.true(metrics.get('link_frames_dropped_total', { reason: 'auth' }) > 0);
  t.true(metrics.get('link_frames_dropped_total', { reason: 'truncated' }) > 0);
  t.true(metrics.get('link_frames_dropped_total', { reason: 'malformed' }) > 0);
  t.true(metrics.get('link_frames_dropped_total', { reason: 'too_big' }) > 0);
});

test('forged (mutated), truncated and replayed frames never throw and are counted', (t) => {
  const { b, metrics, frames } = capture(6);
  t.true(frames.length > 3);
  const seed = 424242;
  t.log(`fast-check seed ${seed}`);
  const received = b.stats().framesReceived;
  let fed = 0;
  const before = dropped(metrics);
  fc.assert(fc.property(
    fc.nat(frames.length - 1), fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('cut' as const), pos: fc.nat() }),
      fc.record({ kind: fc.constant('replay' as const) }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    ),
    (i, op) => {
      let f = Buffer.from(frames[i]);
      if (op.kind === 'flip') f[op.pos % f.length] ^= 1 << op.bit;
      else if (op.kind === 'cut') f = f.subarray(0, op.pos % f.length);
      else if (op.kind === 'append') f = Buffer.concat([f, op.extra]);
      b.handleFrame(1e7, f);
      fed++;
    }), { seed, numRuns: 3000 });
  t.is(dropped(metrics) - before, fed, 'every hostile frame dropped');
  t.is(b.stats().framesReceived, received, 'none accepted');
  t.true(metrics.get('link_frames_dropped_total', { reason: 'replay' }) > 0);
  t.true(metrics.get('link_frames_dropped_total', { reason: 'auth' }) > 0);
  t.true(metrics.get('link_frames_dropped_total', { reason: 'truncated' }) > 0);
});

test('a frame from an earlier session (replay of an earlier run) is refused before any AEAD', (t) => {
  const p = new Pair({ seed: 7, ab: { latencyMs: 100 } });
  const old: Buffer[] = [];
  p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>one</body></message>');
  const orig = p.b.ep.handleFrame.bind(p.b.ep);
  p.b.ep.handleFrame = (now, f) => { old.push(Buffer.from(f)); return orig(now, f); };
  p.driveUntil(() => p.idle());
  p.b.ep.handleFrame = orig;
  p.a.restart(p.now);
  p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>two</body></message>');
  p.driveUntil(() => p.idle());
  const before = p.b.metrics.get('link_frames_dropped_total', { reason: 'stale_session' });
  for (const f of old) t.false(p.b.ep.handleFrame(p.now, f));
  t.is(p.b.metrics.get('link_frames_dropped_total', { reason: 'stale_session' }) - before, old.length);
  t.is(p.b.received.length, 2);
});

/** Frames a sent to b in each of `runs` runs (a restarted between them), and the pair after them. */
function history(seed: number, runs: number): { p: Pair; byRun: Buffer[][] } {
  const p = new Pair({ seed, ab: { latencyMs: 100 } });
  const byRun: Buffer[][] = [[]];
  p.taps.push((to, f) => { if (to === p.b) byRun[p.a.restarts].push(Buffer.from(f)); });
  for (let r = 0; r < runs; r++) {
    if (r > 0) { p.a.restart(p.now); byRun.push([]); }
    for (const s of chatCorpus(6, seed + r)) p.a.submit(s);
    p.driveUntil(() => p.idle());
  }
  return { p, byRun };
}

test('frames of 18 earlier sessions and the current one, replayed, forged or cut, change nothing, also after the receiver restarts (fast-check)', (t) => {
  const { p, byRun } = history(11, 19);
  const seed = 20261124;
  t.log(`fast-check seed ${seed}`);
  const op = fc.oneof(
    fc.record({ kind: fc.constant('as recorded' as const) }),
    fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('cut' as const), pos: fc.nat() }),
    fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('session' as const), session: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
    fc.record({ kind: fc.constant('seq' as const), seq: fc.integer({ min: 0, max: 2 ** 14 - 1 }) }),
  );
  for (const phase of ['link up', 'b restarted'] as const) {
    if (phase === 'b restarted') p.b.restart(p.now);
    const b = p.b.ep;
    const before = { ...b.stats(), dropped: dropped(p.b.metrics) };
    let fed = 0;
    fc.assert(fc.property(fc.nat(byRun.length - 1), fc.nat(), op, (run, at, o) => {
      let f = Buffer.from(byRun[run][at % byRun[run].length]);
      if (o.kind === 'flip') f[o.pos % f.length] ^= 1 << o.bit;
      else if (o.kind === 'cut') f = f.subarray(0, o.pos % f.length);
      else if (o.kind === 'append') f = Buffer.concat([f, o.extra]);
      else if (o.kind === 'session') f.writeUInt32BE(o.session, 1);
      else if (o.kind === 'seq') f = Buffer.concat([f.subarray(0, 5), Buffer.from([0x80 | (o.seq & 0x7f), o.seq >> 7]), f.subarray(5 + (f[5] & 0x80 ? 2 : 1))]);
      fed++;
      return b.handleFrame(p.now, f) === false && b.pollEvent() === undefined;
    }), { seed, numRuns: 3000 });
    const after = b.stats();
    t.is(dropped(p.b.metrics) - before.dropped, fed, `${phase}: every frame dropped and counted`);
    for (const k of ['framesReceived', 'delivered', 'peerEpoch', 'peerSession', 'txGeneration', 'inFlight', 'acked'] as const) t.is(after[k], before[k], `${phase}: ${k} unchanged`);
    t.log(`${phase}: ${['stale_session', 'replay', 'auth', 'truncated', 'malformed'].map((r) => `${r}=${p.b.metrics.get('link_frames_dropped_total', { reason: r })}`).join(' ')}`);
  }
  t.true(p.b.metrics.get('link_frames_dropped_total', { reason: 'stale_session' }) > 0);
  // The link still works after all that.
  p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>still here</body></message>');
  t.true(p.driveUntil(() => p.idle()));
  t.is(p.b.received.at(-1)?.stanza.toString().includes('still here'), true);
});

test('compression: persistent context with dictionary beats per-stanza on a chat corpus', (t) => {
  const corpus = chatCorpus(1000);
  const raw = corpus.reduce((n, s) => n + s.length, 0);
  const dict = buildDictionary(['a.example', 'muc.a.example', 'b.example']);
  const persistent = new StreamDeflater(6, dict);
  const pers = corpus.reduce((n, s) => n + persistent.compress(s).length, 0);
  const perStanza = corpus.reduce((n, s) => n + new StreamDeflater(6, dict).compress(s).length, 0);
  const noDict = corpus.reduce((n, s) => n + new StreamDeflater(6, new Uint8Array(0)).compress(s).length, 0);
  t.log(`bytes/stanza: raw ${(raw / 1000).toFixed(1)}, persistent ${(pers / 1000).toFixed(1)}, per-stanza+dict ${(perStanza / 1000).toFixed(1)}, per-stanza ${(noDict / 1000).toFixed(1)}`);
  t.true(pers < perStanza * 0.6, 'persistent context much smaller than per-stanza');
  t.true(perStanza < noDict, 'the dictionary helps a fresh context');
  t.true(pers < raw / 5);
});

test('link bytes per stanza on the bearer, header overhead measured', (t) => {
  const p = new Pair({ seed: 8, ab: { latencyMs: 300, rateBps: 64_000 } });
  const corpus = chatCorpus(500, 3);
  for (const s of corpus) p.a.submit(s);
  p.driveUntil(() => p.idle());
  const st = p.a.ep.stats();
  const raw = corpus.reduce((n, s) => n + s.length, 0);
  t.log(`${corpus.length} stanzas, ${raw} XML bytes -> ${st.bytesSent} link bytes in ${st.framesSent} frames; header+tag ${st.headerBytes} (${(st.headerBytes / st.framesSent).toFixed(1)}/frame)`);
  t.true(st.bytesSent < raw / 3);
  t.true(st.headerBytes / st.framesSent <= 6 + 16 + 3);
});

test('API errors are typed with stable codes', (t) => {
  const mk = (over: Partial<typeof DEFAULT_TUNING> = {}, key = Buffer.alloc(32)) =>
    new LinkEndpoint({ tuning: { ...DEFAULT_TUNING, ...over }, key, role: 'a', localDomains: [], remoteDomains: [], random: () => Buffer.alloc(4) }, 0);
  t.is(t.throws(() => mk({}, Buffer.alloc(16)), { instanceOf: LinkError })!.code, 'LINK_BAD_OPTIONS');
  t.is(t.throws(() => mk({ mtu: 10 }), { instanceOf: LinkError })!.code, 'LINK_BAD_OPTIONS');
  const ep = mk({ maxStanzaBytes: 100 });
  ep.submit(5n, Buffer.from('<a/>'), 'high', 0);
  t.is(t.throws(() => ep.submit(5n, Buffer.from('<a/>'), 'high', 0), { instanceOf: LinkError })!.code, 'LINK_BAD_ID');
  t.is(t.throws(() => ep.submit(6n, Buffer.alloc(101), 'high', 0), { instanceOf: LinkError })!.code, 'LINK_STANZA_TOO_BIG');
  t.is(t.throws(() => ep.submit(-1n, Buffer.from('<a/>'), 'high', 0), { instanceOf: LinkError })!.code, 'LINK_BAD_ID');
});

test('setSendFloor: never-sent ids below the floor are dropped and do not block the receiver', (t) => {
  const p = new Pair({ seed: 9, ab: { latencyMs: 100 }, tuning: { windowFrames: 1, mtu: 128 } });
  const ids: bigint[] = [];
  for (let i = 0; i < 40; i++) ids.push(p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>${i} ${'x'.repeat(i)}</body></message>`));
  p.step(); // first frame(s) out
  const floor = ids[30];
  p.a.ep.setSendFloor(floor);
  for (const id of ids) if (id < floor) p.a.outbox.delete(id); // the spool expired them
  t.true(p.driveUntil(() => p.idle() && p.b.received.some((r) => r.id === ids[39])));
  const got = p.b.received.map((r) => r.id);
  t.true(got.length < 40 && got.length >= 10, `${got.length} delivered`);
  t.deepEqual(got.slice(-10), ids.slice(30));
  t.true(got.every((id, i) => i === 0 || id > got[i - 1]));
});

test('a stream that fails to inflate is reset (RESET block, new generation), nothing lost', async (t) => {
  const { seal, nonceOf: nonce } = await import('../../../src/link/core/crypto.ts');
  const { Writer } = await import('../../../src/link/core/varint.ts');
  const { encodeHeader, encodeSeg, B_STREAM } = await import('../../../src/link/core/wire.ts');
  const p = new Pair({ seed: 10, ab: { latencyMs: 100 } });
  const key = createHashKey(10);
  for (let i = 0; i < 5; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>one ${i}</body></message>`);
  t.true(p.driveUntil(() => p.idle()));
  // Forge, with the real key, a frame from a whose msn 5 holds bytes that are not deflate.
  // Frames are numbered from 0, so a's next numbers lie just above the frames it sent: the one a later
  // sends with this number is dropped as a replay and sent again. The five messages took msn 0..4 of generation 0.
  const epoch = p.a.ep.epoch;
  const seq = p.a.ep.stats().framesSent + 2;
  const h = new Writer();
  encodeHeader(h, true, epoch, seq);
  const body = new Writer();
  body.u8(B_STREAM); body.varint(0);
  encodeSeg(body, { msn: 5, offset: 0, first: true, last: true, id: 1000n, data: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]) }, false);
  const hdr = h.finish();
  const aad = Buffer.concat([hdr, Buffer.from(p.b.ep.epoch.toString(16).padStart(8, '0'), 'hex')]);
  p.b.ep.handleFrame(p.now, Buffer.concat([hdr, seal(deriveKeysV2(key, 'a').send, nonce(epoch, seq), aad, body.finish())]));
  for (let i = 0; i < 5; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>two ${i}</body></message>`);
  t.true(p.driveUntil(() => p.idle() && p.b.received.length === 10, 600_000));
  t.is(p.b.metrics.get('link_stream_resets_total', { reason: 'inflate' }), 1);
  t.is(p.a.ep.stats().txGeneration, 1);
  t.deepEqual(p.b.received.map((r) => Number(r.id)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

function createHashKey(seed: number): Buffer {
  return createHash('sha256').update(`pair-${seed}`).digest();
}

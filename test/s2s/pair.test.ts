/**
 * Two S2SService instances wired to each other over real TCP: X serves b.example
 * toward local a.example, Y serves a.example toward local b.example. A stanza
 * X.deliver()s reaches Y.onStanza (and back) with all four dialback roles used.
 */
import test, { type ExecutionContext } from 'ava';
import { service, until, type Harness } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';
import { SimRuntime } from './_sim.ts';

async function pair(t: ExecutionContext, tls: 'off' | 'required' | 'optional'): Promise<[Harness, Harness]> {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  return [X, Y];
}

for (const tls of ['off', 'required'] as const) {
  test(`pair, TLS ${tls}: deliver reaches the other side with raw bytes, and back`, async (t) => {
    const [X, Y] = await pair(t, tls);
    // unusual but well-formed spelling: the bytes must survive unchanged
    const wire = `<message  to="alice@a.example/r"   from='bob@b.example/x' type="chat" id='m1'><body>h&#xE9;llo &amp; bye</body><x xmlns='urn:example'  a='1'/></message>`;
    const el = parseXml(wire);
    t.is(el.raw?.toString('utf8'), wire);
    X.svc.deliver(el);
    await until(() => Y.got.length === 1, 8000, 'stanza at Y');
    const got = Y.got[0];
    t.is(got.from, 'b.example');
    t.is(got.to, 'a.example');
    t.is(got.el.raw?.toString('utf8'), wire);
    t.is(got.el.getChildText('body'), 'héllo & bye');

    // and back, reusing Y's outbound session that Y opened for dialback
    Y.svc.deliver(parseXml(`<message from='alice@a.example/r' to='bob@b.example/x' id='m2'><body>back</body></message>`));
    await until(() => X.got.length === 1, 8000, 'stanza at X');
    t.is(X.got[0].from, 'a.example');
    t.is(X.got[0].el.attr('id'), 'm2');

    // all four roles ran, and every session is authenticated by dialback
    for (const h of [X, Y]) {
      t.is(h.metrics.get('s2s_dialback_total', { role: 'originating', result: 'valid' }), 1);
      t.is(h.metrics.get('s2s_dialback_total', { role: 'receiving', result: 'valid' }), 1);
      t.is(h.metrics.get('s2s_dialback_total', { role: 'authoritative', result: 'valid' }), 1);
      const sessions = h.svc.sessions();
      t.is(sessions.length, 2, JSON.stringify(sessions));
      for (const s of sessions) {
        t.is(s.state, 'authed');
        t.is(s.auth, 'dialback');
        t.is(s.tls, tls === 'required');
      }
    }
    t.deepEqual(X.undeliverable, []);
    t.deepEqual(Y.undeliverable, []);
  });
}

test('pair: many stanzas queued before authentication are all delivered in order', async (t) => {
  const [X, Y] = await pair(t, 'optional');
  for (let i = 0; i < 50; i++) X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='q${i}'/>`));
  await until(() => Y.got.length === 50, 8000, '50 stanzas');
  t.deepEqual(Y.got.map((g) => g.el.attr('id')), Array.from({ length: 50 }, (_, i) => `q${i}`));
  t.true(X.svc.sessions().every((s) => s.tls));
});

test('pair: stanzas written in the tick the service stops in reach the peer, in order, before the stream closes', async (t) => {
  const [X, Y] = await pair(t, 'required');
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='first'/>`));
  await until(() => Y.got.length === 1, 8000, 'the session is up');
  // One tick: a burst to the authenticated stream (gathered into one write), then the stop.
  for (let i = 0; i < 40; i++) X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='b${i}'><body>${i}</body></message>`));
  const stopped = X.svc.stop();
  await until(() => Y.got.length === 41, 8000, 'the burst at Y');
  await stopped;
  t.deepEqual(Y.got.slice(1).map((g) => g.el.attr('id')), Array.from({ length: 40 }, (_, i) => `b${i}`));
  t.is(Y.metrics.get('s2s_peer_stream_errors_total', { condition: 'system-shutdown' }) >= 1, true, 'then the stream closed with system-shutdown');
});

test('pair: stop() closes with system-shutdown and the peer keeps serving new sessions', async (t) => {
  const [X, Y] = await pair(t, 'off');
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1);
  await until(() => X.metrics.get('s2s_sm_acked_total') === 1, 5000, 'XEP-0198 ack'); // else it would bounce as unacked
  await X.svc.stop();
  await until(() => Y.svc.sessions().length === 0, 5000, 'Y sessions closed');
  // A normal stop sends <system-shutdown/> but is not a stream error of the relay's.
  t.is(X.metrics.get('s2s_stream_errors_total'), 0);
  t.is(X.metrics.get('s2s_sessions_closed_total'), 2);
  t.is(Y.metrics.get('s2s_peer_stream_errors_total', { condition: 'system-shutdown' }), 2, 'the peer got system-shutdown');
  // deliver after stop is refused, not dropped
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='2'/>`));
  t.is(X.undeliverable.length, 1);
  t.is(X.undeliverable[0].err.condition, 'remote-server-timeout');
});

test('pair: idle sessions close idleMs after their last stanza, and a new delivery reconnects on demand (simulated time)', async (t) => {
  const rt = new SimRuntime();
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off', runtime: rt, timeouts: { idleMs: 600_000 } });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off', runtime: rt, timeouts: { idleMs: 600_000 } });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1);
  const carrier = (): string[] => X.svc.sessions().filter((s) => s.direction === 'out' && s.stanzas.out > 0).map((s) => s.id);
  const first = carrier();
  t.is(first.length, 1);
  await rt.advance(400_000);
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1b'/>`));
  await until(() => Y.got.length === 2);
  await rt.advance(599_999);
  t.deepEqual(carrier(), first, 'the stanza at 400 s restarted the idle timer: still open 999.999 s in');
  await rt.advance(1);
  await until(() => X.svc.sessions().length === 0 && Y.svc.sessions().length === 0, 5000, 'idle close');
  t.is(X.metrics.get('s2s_stream_errors_total'), 0); // idle close is a clean </stream:stream>
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='2'/>`));
  await until(() => Y.got.length === 3);
  t.is(Y.got[2].el.attr('id'), '2');
  t.is(X.metrics.get('s2s_sessions_opened_total', { direction: 'out' }), 2);
  t.deepEqual(X.undeliverable, []);
});

test('pair: XEP-0198 acks only after onStanza resolved; unacked stanzas bounce on close', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  const pending: Array<() => void> = [];
  const Y = await service(t, {
    local: ['b.example'],
    served: ['a.example'],
    tls: 'off',
    onStanza: (el, ctx) => {
      Y.got.push({ el, ...ctx });
      return new Promise<void>((r) => pending.push(r));
    },
  });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='2'/>`));
  await until(() => Y.got.length === 2);
  await until(() => X.metrics.get('s2s_sm_enabled_total', { direction: 'out' }) === 1, 5000, '<enabled/> at X');
  t.is(Y.metrics.get('s2s_sm_enabled_total', { direction: 'in' }), 1);
  await new Promise((r) => setTimeout(r, 200));
  t.is(X.metrics.get('s2s_sm_acked_total'), 0); // not taken yet: no ack
  pending[0]();
  pending[1]();
  await until(() => X.metrics.get('s2s_sm_acked_total') === 2, 5000, 'acks');

  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='3'/>`));
  await until(() => Y.got.length === 3);
  await X.svc.stop(); // id 3 was never taken, so never acked: it bounces
  t.deepEqual(X.undeliverable.map((u) => u.el.attr('id')), ['3']);
  t.is(X.metrics.get('s2s_sm_unacked_total'), 1);
});

test('pair: send() resolves once the local server has the stanza, and rejects with the stanza error', async (t) => {
  const [X, Y] = await pair(t, 'optional');
  const el = parseXml(`<message from='bob@b.example' to='alice@a.example' id='s1'><body>confirmed</body></message>`);
  await X.svc.send(el);
  await until(() => Y.got.length === 1, 8000, 'stanza at Y');
  t.is(Y.got[0].el.attr('id'), 's1');
  const refused = X.svc.send(parseXml(`<message from='bob@b.example' to='carol@elsewhere.example' id='s2'/>`));
  const err = await t.throwsAsync(refused);
  t.is((err as { condition?: string }).condition, 'remote-server-not-found');
  t.deepEqual(X.undeliverable, [], 'send() reports to its caller, not to onUndeliverable');
});

test('pair: a burst sets each stream\'s idle timer once, not once per stanza, and the stream still closes idleMs after its last stanza (simulated time)', async (t) => {
  const rt = new SimRuntime();
  const idleMs = 654_321;
  let idleTimers = 0;
  const after = rt.after;
  rt.after = (ms, fn) => {
    if (ms === idleMs) idleTimers++;
    return after(ms, fn);
  };
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off', runtime: rt, timeouts: { idleMs } });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off', runtime: rt, timeouts: { idleMs } });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  for (let i = 0; i < 300; i++) X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='b${i}'/>`));
  await until(() => Y.got.length === 300, 8000, '300 stanzas at Y');
  t.true(idleTimers <= 8, `idle timers set: ${idleTimers} (one per stream, not one per stanza)`);
  await rt.advance(300_000);
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='late'/>`));
  await until(() => Y.got.length === 301);
  await rt.advance(idleMs - 1);
  t.true(X.svc.sessions().some((s) => s.direction === 'out' && s.stanzas.out > 0), 'the stanza 300 s in moved the deadline: still open');
  await rt.advance(1);
  await until(() => X.svc.sessions().length === 0 && Y.svc.sessions().length === 0, 5000, 'idle close');
  t.is(X.metrics.get('s2s_stream_errors_total'), 0);
  t.deepEqual(X.undeliverable, []);
});

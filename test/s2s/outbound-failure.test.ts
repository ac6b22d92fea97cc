/** Outbound failures end in onUndeliverable with the right stanza error, over real sockets. */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { service, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';
import { SimRuntime } from './_sim.ts';

const msg = (id: string, to = 'alice@a.example'): ReturnType<typeof parseXml> =>
  parseXml(`<message from='bob@b.example' to='${to}' id='${id}'><body>x</body></message>`);

/** A port that was bound and released: nothing listens there. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('unreachable local server: queued stanzas bounce with remote-server-not-found', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional', routes: { 'a.example': `127.0.0.1:${await closedPort()}` } });
  X.svc.deliver(msg('1'));
  X.svc.deliver(msg('2'));
  await until(() => X.undeliverable.length === 2);
  t.deepEqual(X.undeliverable.map((u) => [u.el.attr('id'), u.err.condition]), [['1', 'remote-server-not-found'], ['2', 'remote-server-not-found']]);
  t.is(X.metrics.get('s2s_undeliverable_total', { condition: 'remote-server-not-found' }), 2);
  t.is(X.svc.sessions().length, 0);
});

test('unresolvable local server (route to a name that does not resolve): remote-server-not-found', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional', routes: { 'a.example': 'no-such-host.invalid:5269' } });
  X.svc.deliver(msg('1'));
  await until(() => X.undeliverable.length === 1, 8000);
  t.is(X.undeliverable[0].err.condition, 'remote-server-not-found');
});

test('destination not a local domain: refused at once with remote-server-not-found', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional' });
  X.svc.deliver(msg('1', 'someone@elsewhere.example'));
  t.is(X.undeliverable.length, 1);
  t.is(X.undeliverable[0].err.condition, 'remote-server-not-found');
  t.is(X.svc.sessions().length, 0);
});

test('peer accepts TCP but never answers: remote-server-timeout, connection-timeout sent', async (t) => {
  const received: Buffer[] = [];
  const socks: Socket[] = [];
  const mute = createServer((s) => {
    socks.push(s);
    s.on('data', (b) => received.push(b));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of socks) s.destroy();
    mute.close();
  });
  const port = (mute.address() as { port: number }).port;
  const rt = new SimRuntime();
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'optional',
    runtime: rt,
    routes: { 'a.example': `127.0.0.1:${port}` },
    timeouts: { connectMs: 10_000, authMs: 30_000 },
  });
  X.svc.deliver(msg('1'));
  await until(() => received.length > 0, 5000, 'stream header');
  t.deepEqual(rt.pending(), [30_000, 600_000], 'connected: the connect timer is gone; the auth timer and the queue hold run');
  await rt.advance(29_999);
  t.deepEqual(X.undeliverable, [], 'nothing bounced 1 ms before authMs');
  await rt.advance(1);
  t.is(X.undeliverable.length, 1);
  t.is(X.undeliverable[0].err.condition, 'remote-server-timeout');
  t.is(X.metrics.get('s2s_stream_errors_total', { condition: 'connection-timeout' }), 1);
  await until(() => Buffer.concat(received).toString().includes('</stream:stream>'));
  const wire = Buffer.concat(received).toString();
  t.regex(wire, /^<\?xml version='1.0'\?><stream:stream [^>]*from='b.example' to='a.example'/);
  t.regex(wire, /<stream:error><connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"/);
});

test('queue bound: stanzas beyond queueLimit bounce with resource-constraint', async (t) => {
  const mute = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => void mute.close());
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'optional',
    queueLimit: 3,
    routes: { 'a.example': `127.0.0.1:${(mute.address() as { port: number }).port}` },
  });
  for (let i = 0; i < 5; i++) X.svc.deliver(msg(String(i)));
  t.deepEqual(X.undeliverable.map((u) => [u.el.attr('id'), u.err.condition]), [['3', 'resource-constraint'], ['4', 'resource-constraint']]);
  t.is(X.metrics.get('s2s_dropped_total', { reason: 'queue-full' }), 2);
  await X.svc.stop();
  // stop bounces what was still queued
  t.deepEqual(X.undeliverable.slice(2).map((u) => u.el.attr('id')), ['0', '1', '2']);
});

test('queueMs: each queued stanza bounces with remote-server-timeout when its own hold time is up (simulated time)', async (t) => {
  let connected = false;
  const mute = createServer((s) => {
    connected = true;
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => void mute.close());
  const rt = new SimRuntime();
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'optional',
    runtime: rt,
    timeouts: { queueMs: 600_000, authMs: 3_600_000 },
    routes: { 'a.example': `127.0.0.1:${(mute.address() as { port: number }).port}` },
  });
  X.svc.deliver(msg('1'));
  await until(() => connected && rt.pending().length === 2, 5000, 'connected, auth and queue timers set');
  await rt.advance(400_000);
  X.svc.deliver(msg('2'));
  await rt.advance(199_999);
  t.deepEqual(X.undeliverable, [], 'stanza 1 is held until its 600 s are up');
  await rt.advance(1);
  t.deepEqual(X.undeliverable.map((u) => [u.el.attr('id'), u.err.condition]), [['1', 'remote-server-timeout']], 'only stanza 1: stanza 2 has 200 s left');
  await rt.advance(399_999);
  t.is(X.undeliverable.length, 1);
  await rt.advance(1);
  t.deepEqual(X.undeliverable.map((u) => u.el.attr('id')), ['1', '2']);
  t.is(X.svc.sessions().length, 1); // the session itself is still waiting
});

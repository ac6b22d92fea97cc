/** Outbound failures end in onUndeliverable with the right stanza error, over real sockets. */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { service, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';

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
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'optional',
    routes: { 'a.example': `127.0.0.1:${port}` },
    timeouts: { connectMs: 2000, authMs: 300 },
  });
  X.svc.deliver(msg('1'));
  await until(() => X.undeliverable.length === 1, 5000);
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

test('queueMs: a stanza not delivered in time bounces with remote-server-timeout', async (t) => {
  const mute = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  t.teardown(() => void mute.close());
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'optional',
    timeouts: { queueMs: 200, authMs: 10_000 },
    routes: { 'a.example': `127.0.0.1:${(mute.address() as { port: number }).port}` },
  });
  X.svc.deliver(msg('1'));
  await until(() => X.undeliverable.length === 1, 3000);
  t.is(X.undeliverable[0].err.condition, 'remote-server-timeout');
  t.is(X.svc.sessions().length, 1); // the session itself is still waiting
});

/** Admission of unauthenticated inbound S2S connections (src/s2s/admission.ts), with real sockets. */
import test from 'ava';
import { connect } from 'node:net';
import { Admission } from '../../src/s2s/admission.ts';
import { RawClient, dialbackStream, header, service, until } from './_util.ts';

test('slots: per address first, then in total; release is idempotent; refusals counted by reason', (t) => {
  const a = new Admission({ maxPending: 3, maxPendingPerAddress: 2 });
  const s1 = a.admit('10.0.0.1');
  const s2 = a.admit('10.0.0.1');
  t.is(a.admit('10.0.0.1'), 'per_address');
  const s3 = a.admit('10.0.0.2');
  t.is(a.admit('10.0.0.3'), 'total');
  t.like(a.summary(), { pending: 3, addresses: 2, busiest: { address: '10.0.0.1', pending: 2 }, refused: { total: 1, per_address: 1 } });
  for (const s of [s1, s1, s2, s3]) if (typeof s !== 'string') s.release();
  t.like(a.summary(), { pending: 0, addresses: 0, busiest: undefined });
});

test('a connection over the per-address limit gets a stream header and policy-violation at once; authenticating frees the slot', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off', admission: { maxPending: 10, maxPendingPerAddress: 1 } });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off' });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  const first = await RawClient.connect(t, X.port);
  first.send(header('a.example', 'b.example'));
  await first.waitFor(/<stream:features/);
  const second = await RawClient.connect(t, X.port);
  t.is(await second.streamError(), 'policy-violation');
  t.regex(second.text, /^<\?xml version='1.0'\?><stream:stream [^>]*id='[0-9a-f]+'/, 'our header first (RFC 6120 §4.9.1.1)');
  t.is(X.metrics.get('s2s_connections_refused_total', { reason: 'per_address' }), 1);
  first.sock.destroy();
  await until(() => X.svc.pendingSummary().pending === 0, 5000, 'slot freed at close');
  const authed = await dialbackStream(t, X, Y);
  await until(() => X.svc.pendingSummary().pending === 0, 5000, 'slot freed at authentication');
  const third = await RawClient.connect(t, X.port);
  third.send(header('a.example', 'b.example'));
  await third.waitFor(/<stream:features/);
  t.false(third.closed, 'the authenticated stream holds no slot');
  t.false(authed.closed);
});

test('direct TLS: a connection holds its slot through the handshake; one over the limit is closed before TLS', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional', directTlsListen: ['127.0.0.1:0'], admission: { maxPending: 1, maxPendingPerAddress: 1 } });
  const port = X.svc.addresses.find((a) => a.directTls)!.port;
  const open = () =>
    new Promise<{ closed: () => boolean; destroy: () => void }>((resolve) => {
      let closed = false;
      const s = connect({ host: '127.0.0.1', port }, () => resolve({ closed: () => closed, destroy: () => s.destroy() }));
      s.on('close', () => (closed = true));
      s.on('error', () => undefined);
      t.teardown(() => void s.destroy());
    });
  const first = await open();
  await until(() => X.svc.pendingSummary().pending === 1, 5000, 'the first connection holds the slot');
  const second = await open();
  await until(() => second.closed(), 5000, 'the second closed');
  t.false(first.closed());
  t.is(X.metrics.get('s2s_connections_refused_total', { reason: 'per_address' }), 1);
  first.destroy();
  await until(() => X.svc.pendingSummary().pending === 0, 5000, 'slot freed when the handshake never came');
});

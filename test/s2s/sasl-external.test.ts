/**
 * SASL EXTERNAL (XEP-0178) between two relays whose certificate stores trust
 * each other's certificates: no dialback at all; and a cert that is not
 * trusted falls back to dialback. Direct TLS (XEP-0368) listener as well.
 */
import test, { type ExecutionContext } from 'ava';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { service, tempDir, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';

/** Stores for X (serves b.example) and Y (serves a.example), each trusting the other's cert. */
function trustingStores(t: ExecutionContext): { x: CertStore; y: CertStore } {
  const dx = tempDir(t);
  const dy = tempDir(t);
  const certX = new CertStore({ dir: dx }).pairForDomain('b.example').certPem;
  const certY = new CertStore({ dir: dy }).pairForDomain('a.example').certPem;
  return { x: new CertStore({ dir: dx, ca: [certY] }), y: new CertStore({ dir: dy, ca: [certX] }) };
}

test('trusted certificates: both directions authenticate with SASL EXTERNAL', async (t) => {
  const { x, y } = trustingStores(t);
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required', certs: x });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'required', certs: y });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1, 8000);
  Y.svc.deliver(parseXml(`<message from='alice@a.example' to='bob@b.example' id='2'/>`));
  await until(() => X.got.length === 1, 8000);
  for (const h of [X, Y]) {
    const s = h.svc.sessions();
    t.is(s.length, 2);
    t.true(s.every((v) => v.auth === 'sasl-external' && v.tls && v.state === 'authed'), JSON.stringify(s));
    t.is(h.metrics.get('s2s_dialback_total'), 0);
  }
});

test('untrusted certificate: EXTERNAL is not offered, dialback is used', async (t) => {
  const { y } = trustingStores(t);
  // X has a fresh cert Y does not trust
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required' });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'required', certs: y });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1, 8000);
  const out = X.svc.sessions().find((s) => s.direction === 'out')!;
  t.is(out.auth, 'dialback');
  t.is(X.metrics.get('s2s_auth_total', { method: 'sasl-external' }), 0);
});

test('direct TLS (XEP-0368): a tls: route reaches the direct TLS listener', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional' });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'optional', directTlsListen: ['127.0.0.1:0'] });
  const direct = Y.svc.addresses.find((a) => a.directTls)!;
  t.truthy(direct);
  X.routes['a.example'] = `tls:127.0.0.1:${direct.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1, 8000);
  const inbound = Y.svc.sessions().find((s) => s.direction === 'in' && s.remote === 'b.example')!;
  t.true(inbound.tls);
  t.is(inbound.state, 'authed');
});

test('rejectUntrusted: an untrusted local server certificate fails TLS -> remote-server-not-found', async (t) => {
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'required' });
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required', rejectUntrusted: true, routes: { 'a.example': `127.0.0.1:${Y.port}` } });
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='s'/>`));
  await until(() => X.undeliverable.length === 1, 8000);
  t.is(X.undeliverable[0].err.condition, 'remote-server-not-found');
  t.is(X.metrics.get('s2s_tls_failures_total', { direction: 'out' }), 1);
  t.is(Y.got.length, 0);
});

test('rejectUntrusted with a trusted local server certificate: delivered', async (t) => {
  const { x, y } = trustingStores(t);
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'required', certs: y });
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required', certs: x, rejectUntrusted: true, routes: { 'a.example': `127.0.0.1:${Y.port}` } });
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='s'/>`));
  await until(() => Y.got.length === 1, 8000);
  t.deepEqual(X.undeliverable, []);
});

import test from 'ava';
import net from 'node:net';
import { Xep0361Link } from '../../../src/link/xep0361/link.ts';
import { XmlElement, x } from '../../../src/xml/element.ts';
import type { StanzaError } from '../../../src/xmpp/errors.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { ManualClock } from '../../../src/time/index.ts';

const msg = (i: number, from = 'alice@a.example', to = 'bob@b.example') =>
  x('message', { xmlns: 'jabber:server', from, to, id: `m${i}`, type: 'chat' }, x('body', {}, `hello ${i} & <ü>`));

function collector() {
  const got: XmlElement[] = [];
  const bounced: Array<{ el: XmlElement; err: StanzaError }> = [];
  let waiters: Array<() => void> = [];
  return {
    got,
    bounced,
    handlers: {
      deliver: (el: XmlElement) => {
        got.push(el);
        waiters.forEach((w) => w());
      },
      undeliverable: (el: XmlElement, err: StanzaError) => bounced.push({ el, err }),
    },
    async until(n: number, ms = 10000) {
      const end = Date.now() + ms;
      while (got.length < n) {
        if (Date.now() > end) throw new Error(`timed out with ${got.length}/${n}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
        waiters = [];
      }
    },
  };
}

async function pair(extra: { acks?: boolean } = {}) {
  const mA = new Metrics();
  const mB = new Metrics();
  const a = new Xep0361Link({ name: 'to-b', domains: ['b.example'], bind: { host: '127.0.0.1', port: 0 }, metrics: mA, backoff: { minMs: 50, maxMs: 200 }, ...extra });
  const ca = collector();
  await a.start(ca.handlers);
  const b = new Xep0361Link({ name: 'to-a', domains: ['a.example'], peer: a.address!, metrics: mB, backoff: { minMs: 50, maxMs: 200 }, ...extra });
  const cb = collector();
  await b.start(cb.handlers);
  return { a, b, ca, cb, mA, mB };
}

test('stanzas cross both ways in order, byte-exact, with no header or negotiation', async (t) => {
  const { a, b, ca, cb } = await pair();
  t.teardown(async () => { await b.stop(); await a.stop(); });
  for (let i = 0; i < 50; i++) await b.send(msg(i));
  for (let i = 0; i < 50; i++) await a.send(msg(i, 'bob@b.example', 'alice@a.example'));
  await ca.until(50);
  await cb.until(50);
  t.deepEqual(ca.got.map((e) => e.attr('id')), Array.from({ length: 50 }, (_, i) => `m${i}`));
  t.deepEqual(cb.got.map((e) => e.attr('id')), Array.from({ length: 50 }, (_, i) => `m${i}`));
  t.is(ca.got[7].getChildText('body'), 'hello 7 & <ü>');
  t.is(ca.got[7].ns, 'jabber:server');
});

test('stanzas sent while the partner is unreachable are held, then delivered once', async (t) => {
  // Reserve a port, close it: the dialing side retries with back-off until a listener appears.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const b = new Xep0361Link({ name: 'to-a', domains: ['a.example'], peer: { host: '127.0.0.1', port }, backoff: { minMs: 50, maxMs: 100 } });
  const cb = collector();
  await b.start(cb.handlers);
  for (let i = 0; i < 10; i++) await b.send(msg(i));
  t.is(b.status().up, false);
  t.is(b.status().queued, 10);
  await new Promise((r) => setTimeout(r, 300));
  const a = new Xep0361Link({ name: 'to-b', domains: ['b.example'], bind: { host: '127.0.0.1', port } });
  const ca = collector();
  await a.start(ca.handlers);
  t.teardown(async () => { await b.stop(); await a.stop(); });
  await ca.until(10);
  t.deepEqual(ca.got.map((e) => e.attr('id')), Array.from({ length: 10 }, (_, i) => `m${i}`));
});

test('a connection cut mid-transfer loses and duplicates nothing', async (t) => {
  const { a, b, ca, mA } = await pair();
  t.teardown(async () => { await b.stop(); await a.stop(); });
  const N = 400;
  for (let i = 0; i < N; i++) {
    await b.send(msg(i));
    // Cut the TCP connection from the listening side a few times while data flows.
    if (i % 100 === 50) (a as unknown as { sock?: net.Socket }).sock?.destroy();
    if (i % 25 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  await ca.until(N, 20000);
  await new Promise((r) => setTimeout(r, 300));
  const ids = ca.got.map((e) => e.attr('id'));
  t.is(ids.length, N, 'no duplicates');
  t.deepEqual(ids, Array.from({ length: N }, (_, i) => `m${i}`));
  t.true(mA.get('link_connects_total') >= 2, 'the connection really was cut');
  t.is(b.status().inFlight + b.status().queued, 0, 'everything acknowledged');
});

test('stanzas held past the limit are bounced with remote-server-timeout', async (t) => {
  // Simulated time: the hold check runs once a second; the partner's port refuses.
  const clock = new ManualClock();
  const b = new Xep0361Link({ name: 'to-a', domains: ['a.example'], peer: { host: '127.0.0.1', port: 1 }, heldTimeoutMs: 100, backoff: { minMs: 1000, maxMs: 1000 }, clock });
  const cb = collector();
  await b.start(cb.handlers);
  t.teardown(() => b.stop());
  await b.send(msg(1));
  clock.advance(999);
  t.is(cb.bounced.length, 0, 'held, not yet checked');
  clock.advance(1);
  t.is(cb.bounced.length, 1);
  t.is(cb.bounced[0].err.condition, 'remote-server-timeout');
  t.is(cb.bounced[0].el.attr('id'), 'm1');
});

test('garbage from the partner closes that connection only; the link reconnects and carries on', async (t) => {
  const { a, b, ca, mA } = await pair();
  t.teardown(async () => { await b.stop(); await a.stop(); });
  await b.send(msg(1));
  await ca.until(1);
  (b as unknown as { sock: net.Socket }).sock.write('<message><unclosed></message>');
  await new Promise((r) => setTimeout(r, 400));
  t.is(mA.get('link_stream_errors_total', { condition: 'not-well-formed' }), 1);
  await b.send(msg(2));
  await ca.until(2);
  t.deepEqual(ca.got.map((e) => e.attr('id')), ['m1', 'm2']);
});

test('TLS with a pinned partner certificate: the right certificate connects, another is refused and counted', async (t) => {
  const { generateSelfSigned } = await import('../../../src/s2s/tls/index.ts');
  const { X509Certificate } = await import('node:crypto');
  const shore = generateSelfSigned('shore.link');
  const ship = generateSelfSigned('ship.link');
  const stranger = generateSelfSigned('ship.link');
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  const mA = new Metrics();
  const a = new Xep0361Link({ name: 'to-ship', domains: ['a.example'], bind: { host: '127.0.0.1', port: 0 }, metrics: mA, tls: { certPem: shore.certPem, keyPem: shore.keyPem, peerFingerprint: fp(ship.certPem) } });
  const ca = collector();
  await a.start(ca.handlers);
  t.teardown(() => a.stop());
  const intruder = new Xep0361Link({ name: 'to-shore', domains: ['b.example'], peer: a.address!, backoff: { minMs: 5000, maxMs: 5000 }, tls: { certPem: stranger.certPem, keyPem: stranger.keyPem } });
  await intruder.start(collector().handlers);
  await intruder.send(msg(99));
  await new Promise((r) => setTimeout(r, 500));
  await intruder.stop();
  t.is(ca.got.length, 0, 'nothing accepted from a certificate that is not pinned');
  t.true(mA.get('link_auth_failures_total') >= 1);
  const b = new Xep0361Link({ name: 'to-shore', domains: ['b.example'], peer: a.address!, tls: { certPem: ship.certPem, keyPem: ship.keyPem, peerFingerprint: fp(shore.certPem) } });
  await b.start(collector().handlers);
  t.teardown(() => b.stop());
  await b.send(msg(1));
  await ca.until(1);
  t.is(ca.got[0].attr('id'), 'm1');
});

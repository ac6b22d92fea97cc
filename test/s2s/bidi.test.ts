/**
 * XEP-0288 bidirectional S2S streams over real TCP. Two S2SService instances
 * as in pair.test.ts (X serves b.example toward local a.example, Y serves
 * a.example toward local b.example), both with bidi on: stanzas both ways use
 * the one stream X opened. Raw peers check the negotiation and the stanza
 * checks on both kinds of bidi stream (spoofed from -> invalid-from); a real
 * Prosody 0.12 (no bidi) still federates with a relay that offers it.
 */
import test, { type ExecutionContext } from 'ava';
import { createServer, type Socket } from 'node:net';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { parseXml } from '../../src/xml/index.ts';
import { dialbackKey } from '../../src/s2s/dialback-key.ts';
import { RawClient, header, service, tempDir, until, type Harness } from './_util.ts';
import type { S2SOptions, SessionInfo } from '../../src/s2s/index.ts';
import { ProsodyServer, prosodyAvailable } from '../helpers/prosody.ts';
import { XmppClient } from '../helpers/xmpp-client.ts';

type Extra = Partial<Omit<S2SOptions, 'tls'>> & { certs?: CertStore };

async function pair(t: ExecutionContext, tls: 'off' | 'required', x: Extra, y: Extra): Promise<[Harness, Harness]> {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls, ...x });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls, ...y });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  return [X, Y];
}

/** Stores for X (serves b.example) and Y (serves a.example), each trusting the other's cert. */
function trustingStores(t: ExecutionContext): { x: CertStore; y: CertStore } {
  const dx = tempDir(t);
  const dy = tempDir(t);
  const certX = new CertStore({ dir: dx }).pairForDomain('b.example').certPem;
  const certY = new CertStore({ dir: dy }).pairForDomain('a.example').certPem;
  return { x: new CertStore({ dir: dx, ca: [certY] }), y: new CertStore({ dir: dy, ca: [certX] }) };
}

const one = (h: Harness, dir: 'in' | 'out'): SessionInfo[] => h.svc.sessions().filter((s) => s.direction === dir);
const opened = (h: Harness, direction: 'in' | 'out'): number => h.metrics.get('s2s_sessions_opened_total', { direction });

// unusual but well-formed spellings: the bytes must survive unchanged both ways
const wireXY = `<message  to="alice@a.example/r"   from='bob@b.example/x' type="chat" id='m1'><body>h&#xE9;llo &amp; bye</body><x xmlns='urn:example'  a='1'/></message>`;
const wireYX = `<message from="alice@a.example/r"  to='bob@b.example/x' id="m2"><body>b&#x101;ck</body><y xmlns="urn:example" b='2' /></message>`;

for (const tls of ['off', 'required'] as const) {
  test(`bidi, dialback, TLS ${tls}: both directions on the one stream X opened, raw bytes kept`, async (t) => {
    const [X, Y] = await pair(t, tls, { bidi: true }, { bidi: true });
    X.svc.deliver(parseXml(wireXY));
    await until(() => Y.got.length === 1, 8000, 'stanza at Y');
    t.is(Y.got[0].el.raw?.toString('utf8'), wireXY);
    t.deepEqual([Y.got[0].from, Y.got[0].to], ['b.example', 'a.example']);

    // send() resolves once written on the bidi stream
    await Y.svc.send(parseXml(wireYX));
    await until(() => X.got.length === 1, 8000, 'stanza at X');
    t.is(X.got[0].el.raw?.toString('utf8'), wireYX);
    t.deepEqual([X.got[0].from, X.got[0].to], ['a.example', 'b.example']);
    t.is(X.got[0].el.getChildText('body'), 'bāck');

    // a burst each way, concurrently: all in order, all on the same stream
    for (let i = 0; i < 20; i++) {
      X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='x${i}'/>`));
      Y.svc.deliver(parseXml(`<message from='alice@a.example' to='bob@b.example' id='y${i}'/>`));
    }
    await until(() => Y.got.length === 21 && X.got.length === 21, 8000, 'bursts');
    t.deepEqual(Y.got.slice(1).map((g) => g.el.attr('id')), Array.from({ length: 20 }, (_, i) => `x${i}`));
    t.deepEqual(X.got.slice(1).map((g) => g.el.attr('id')), Array.from({ length: 20 }, (_, i) => `y${i}`));

    // Y accepted one connection, and it is bidi; Y's dialback connection to X
    // (XEP-0288 §2.2: keys are never verified on the stream that asked) stays one-way
    t.is(opened(Y, 'in'), 1);
    t.is(X.metrics.get('s2s_bidi_total', { direction: 'out' }), 1);
    t.is(Y.metrics.get('s2s_bidi_total', { direction: 'in' }), 1);
    t.is(Y.metrics.get('s2s_bidi_total', { direction: 'out' }), 0);
    const [xOut] = one(X, 'out');
    const [yIn] = one(Y, 'in');
    t.true(xOut.bidi && yIn.bidi);
    t.deepEqual(xOut.stanzas, { in: 21, out: 21 });
    t.deepEqual(yIn.stanzas, { in: 21, out: 21 });
    // the other connection carried no stanza at all
    t.deepEqual(one(Y, 'out').map((s) => s.stanzas), [{ in: 0, out: 0 }]);
    t.deepEqual(one(X, 'in').map((s) => s.stanzas), [{ in: 0, out: 0 }]);
    await until(() => [X, Y].every((h) => h.svc.sessions().every((s) => s.state === 'authed')), 5000, 'dialback connection authenticated');
    for (const h of [X, Y]) {
      for (const s of h.svc.sessions()) {
        t.is(s.auth, 'dialback');
        t.is(s.tls, tls === 'required');
      }
      t.deepEqual(h.undeliverable, []);
    }
  });
}

test('bidi with SASL EXTERNAL (trusted certs, TLS): exactly one TCP connection in all', async (t) => {
  const { x, y } = trustingStores(t);
  const [X, Y] = await pair(t, 'required', { bidi: true, certs: x }, { bidi: true, certs: y });
  X.svc.deliver(parseXml(wireXY));
  await until(() => Y.got.length === 1, 8000, 'stanza at Y');
  await Y.svc.send(parseXml(wireYX));
  await until(() => X.got.length === 1, 8000, 'stanza at X');
  t.is(Y.got[0].el.raw?.toString('utf8'), wireXY);
  t.is(X.got[0].el.raw?.toString('utf8'), wireYX);
  t.deepEqual([opened(X, 'out'), opened(X, 'in'), opened(Y, 'out'), opened(Y, 'in')], [1, 0, 0, 1]);
  for (const h of [X, Y]) {
    const s = h.svc.sessions();
    t.is(s.length, 1, JSON.stringify(s));
    t.true(s[0].bidi && s[0].tls && s[0].auth === 'sasl-external' && s[0].state === 'authed', JSON.stringify(s));
    t.deepEqual(s[0].stanzas, { in: 1, out: 1 });
    t.is(h.metrics.get('s2s_dialback_total'), 0);
  }
});

test('bidi: a stanza X refuses on its bidi outbound stream bounces back to Y', async (t) => {
  const X = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'off',
    bidi: true,
    onStanza: () => {
      throw new StanzaError('service-unavailable', 'not today');
    },
  });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off', bidi: true });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='1'/>`));
  await until(() => Y.got.length === 1, 8000);
  Y.svc.deliver(parseXml(`<message from='alice@a.example/r' to='bob@b.example/x' id='2'><body>x</body></message>`));
  await until(() => Y.got.length === 2, 8000, 'bounce at Y');
  const b = Y.got[1].el;
  t.is(b.attr('type'), 'error');
  t.is(b.attr('id'), '2');
  t.is(b.attr('to'), 'alice@a.example/r');
  t.truthy(b.getChild('error')?.getChild('service-unavailable'));
  t.is(X.metrics.get('s2s_dropped_total', { reason: 'refused', condition: 'service-unavailable' }), 1);
  t.is(one(X, 'out')[0].stanzas.in, 1);
});

for (const missing of ['Y does not offer bidi', 'X does not ask for bidi'] as const) {
  test(`no bidi (${missing}): two streams, one per direction, still work`, async (t) => {
    const [X, Y] = await pair(t, 'off', { bidi: missing !== 'X does not ask for bidi' }, { bidi: missing !== 'Y does not offer bidi' });
    X.svc.deliver(parseXml(wireXY));
    await until(() => Y.got.length === 1, 8000, 'stanza at Y');
    await Y.svc.send(parseXml(wireYX));
    await until(() => X.got.length === 1, 8000, 'stanza at X');
    t.is(Y.got[0].el.raw?.toString('utf8'), wireXY);
    t.is(X.got[0].el.raw?.toString('utf8'), wireYX);
    t.deepEqual([opened(X, 'out'), opened(X, 'in'), opened(Y, 'out'), opened(Y, 'in')], [1, 1, 1, 1]);
    for (const h of [X, Y]) {
      t.is(h.metrics.get('s2s_bidi_total'), 0);
      t.true(h.svc.sessions().every((s) => !s.bidi && s.state === 'authed'));
      t.deepEqual(one(h, 'out')[0].stanzas, { in: 0, out: 1 });
      t.deepEqual(one(h, 'in')[0].stanzas, { in: 1, out: 0 });
    }
  });
}

/** A fake local server a.example: accepts X's outbound stream, offers features, says dialback valid. */
async function fakeLocal(t: ExecutionContext, features: string): Promise<{ X: Harness; peer: RawClient }> {
  let sock: Socket | undefined;
  const srv = createServer((s) => (sock = s));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => {
    sock?.destroy();
    srv.close();
  });
  const port = (srv.address() as { port: number }).port;
  const X = await service(t, { local: ['a.example'], served: ['b.example', 'c.example'], tls: 'off', bidi: true, routes: { 'a.example': `127.0.0.1:${port}` } });
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='out1'/>`));
  await until(() => sock !== undefined, 5000, 'X connects');
  const peer = new RawClient(sock!);
  await peer.waitFor(/<stream:stream [^>]*>/);
  peer.send(header('a.example', 'b.example', ` id='fake1'`) + `<stream:features>${features}</stream:features>`);
  await peer.waitFor(/<db:result [^>]*>[0-9a-f]+<\/db:result>/);
  peer.send(`<db:result from='a.example' to='b.example' type='valid'/>`);
  await peer.waitFor(/id="out1"|id='out1'/);
  return { X, peer };
}

const DIALBACK = `<dialback xmlns='urn:xmpp:features:dialback'/>`;
const BIDI = `<bidi xmlns='urn:xmpp:features:bidi'/>`;

test('outbound: bidi asked for before dialback; the local server sends on it; XEP-0198 acks count its stanzas', async (t) => {
  const { X, peer } = await fakeLocal(t, DIALBACK + BIDI + `<sm xmlns='urn:xmpp:sm:3'/>`);
  const bidiAt = peer.text.indexOf(`<bidi xmlns='urn:xmpp:bidi'/>`);
  t.true(bidiAt > 0 && bidiAt < peer.text.indexOf('<db:result'), 'bidi before db:result');
  await peer.waitFor(/<enable xmlns='urn:xmpp:sm:3'\/>/);
  peer.send(`<enabled xmlns='urn:xmpp:sm:3'/>`);
  await until(() => X.metrics.get('s2s_sm_enabled_total', { direction: 'out' }) === 1, 5000, '<enabled/> at X');
  const wire = `<message  from="alice@a.example/r" to='bob@b.example' id="p1"><body>&lt;hi&gt;</body></message>`;
  peer.send(wire + `<presence from='alice@a.example' to='bob@b.example'/><r xmlns='urn:xmpp:sm:3'/>`);
  await until(() => X.got.length === 2, 5000, 'stanzas at X');
  t.is(X.got[0].el.raw?.toString('utf8'), wire);
  t.deepEqual([X.got[0].from, X.got[0].to], ['a.example', 'b.example']);
  await peer.waitFor(/<a xmlns='urn:xmpp:sm:3' h='2'\/>/);
  t.is(X.metrics.get('s2s_bidi_total', { direction: 'out' }), 1);
  t.false(peer.closed);
});

const spoofs: Array<{ name: string; want: string; stanza: string }> = [
  { name: 'spoofed from', want: 'invalid-from', stanza: `<message from='mallory@evil.example' to='bob@b.example'/>` },
  { name: 'from another local domain', want: 'invalid-from', stanza: `<message from='x@sub.a.example' to='bob@b.example'/>` },
  { name: 'to another served domain than the pair', want: 'invalid-from', stanza: `<message from='alice@a.example' to='carol@c.example'/>` },
  { name: 'to a domain not served', want: 'host-unknown', stanza: `<message from='alice@a.example' to='bob@zzz.example'/>` },
  { name: 'without to', want: 'improper-addressing', stanza: `<message from='alice@a.example'/>` },
  { name: 'non-stanza element', want: 'unsupported-stanza-type', stanza: `<foo xmlns='urn:x' from='alice@a.example' to='bob@b.example'/>` },
];
for (const c of spoofs) {
  test(`outbound bidi stream: ${c.name} -> ${c.want}`, async (t) => {
    const { X, peer } = await fakeLocal(t, DIALBACK + BIDI);
    peer.send(`<message from='alice@a.example' to='bob@b.example' id='ok'/>`);
    await until(() => X.got.length === 1, 5000, 'good stanza');
    peer.send(c.stanza);
    t.is(await peer.streamError(), c.want);
    t.is(X.got.length, 1);
    t.is(X.metrics.get('s2s_stream_errors_total', { condition: c.want, direction: 'out' }), 1);
  });
}

test('outbound without bidi offered: <bidi/> not sent, a stanza from the local server is refused', async (t) => {
  const { X, peer } = await fakeLocal(t, DIALBACK);
  t.false(peer.text.includes('urn:xmpp:bidi'));
  peer.send(`<message from='alice@a.example' to='bob@b.example'/>`);
  t.is(await peer.streamError(), 'unsupported-stanza-type');
  t.is(X.got.length, 0);
});

/** X (bidi on) with Y as a.example's authoritative server; a raw client plays a.example's server. */
async function inboundEnv(t: ExecutionContext, bidi: boolean): Promise<{ X: Harness; Y: Harness; c: RawClient; id: string; features: string }> {
  const [X, Y] = await pair(t, 'off', { bidi }, { bidi: false });
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', 'b.example'));
  const id = (await c.waitFor(/<stream:stream [^>]*id='([0-9a-f]+)'/))[1];
  const features = (await c.waitFor(/<stream:features>.*<\/stream:features>/))[0];
  return { X, Y, c, id, features };
}

async function bidiAuthed(t: ExecutionContext): Promise<{ X: Harness; c: RawClient }> {
  const e = await inboundEnv(t, true);
  t.regex(e.features, /<bidi xmlns="urn:xmpp:features:bidi"\/>/);
  e.c.send(`<bidi xmlns='urn:xmpp:bidi'/><db:result from='a.example' to='b.example'>${dialbackKey(e.Y.secret, 'b.example', 'a.example', e.id)}</db:result>`);
  await e.c.waitFor(/<db:result from="b.example" to="a.example" type="valid"\/>/);
  return { X: e.X, c: e.c };
}

test('inbound: bidi offered; once asked for and authenticated, X delivers on the peer stream (raw bytes)', async (t) => {
  const { X, c } = await bidiAuthed(t);
  const before = c.text.length;
  await X.svc.send(parseXml(wireXY));
  await c.waitFor(/id='m1'/);
  t.true(c.text.slice(before).includes(wireXY));
  // X's own outbound session to a.example (used for the dialback check) carried nothing
  t.deepEqual(one(X, 'out').map((s) => s.stanzas.out), [0]);
  t.is(X.metrics.get('s2s_bidi_total', { direction: 'in' }), 1);
  c.send(`<message from='alice@a.example' to='bob@b.example' id='in1'/>`);
  await until(() => X.got.length === 1);
  t.deepEqual(one(X, 'in')[0].stanzas, { in: 1, out: 1 });
});

test('inbound bidi stream: spoofed from -> invalid-from', async (t) => {
  const { X, c } = await bidiAuthed(t);
  c.send(`<message from='mallory@evil.example' to='bob@b.example'/>`);
  t.is(await c.streamError(), 'invalid-from');
  t.is(X.got.length, 0);
});

test('inbound: <bidi/> after authentication -> policy-violation', async (t) => {
  const { c } = await bidiAuthed(t);
  c.send(`<bidi xmlns='urn:xmpp:bidi'/>`);
  t.is(await c.streamError(), 'policy-violation');
});

test('inbound: bidi not offered when off; asking anyway -> unsupported-feature', async (t) => {
  const e = await inboundEnv(t, false);
  t.notRegex(e.features, /bidi/);
  e.c.send(`<bidi xmlns='urn:xmpp:bidi'/>`);
  t.is(await e.c.streamError(), 'unsupported-feature');
});

test('inbound: with TLS on, bidi is offered only after STARTTLS', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional', bidi: true });
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', 'b.example'));
  const features = (await c.waitFor(/<stream:features>.*<\/stream:features>/))[0];
  t.regex(features, /starttls/);
  t.notRegex(features, /bidi/);
  c.send(`<bidi xmlns='urn:xmpp:bidi'/>`);
  t.is(await c.streamError(), 'unsupported-feature');
});

// Real Prosody 0.12 (no mod_bidi): it ignores the offer and offers none, so bidi
// is never negotiated and each direction keeps its own stream.
(prosodyAvailable() ? test.serial : test.skip)('real Prosody with bidi on at the relay: never negotiated, both directions work', async (t) => {
  t.timeout(60_000);
  const ip = '127.0.0.16';
  const relay = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required', bidi: true });
  const prosody = await ProsodyServer.start({
    domain: 'a.example',
    ip,
    peers: { 'b.example': { host: '127.0.0.1', port: relay.port } },
    s2sTls: 'required',
    users: [{ user: 'alice', password: 'pw' }],
  });
  t.teardown(() => prosody.stop());
  relay.routes['a.example'] = `${ip}:${prosody.s2sPort}`;
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: ip, port: prosody.c2sPort });
  t.teardown(() => alice.close());
  try {
    alice.sendMessage('bob@b.example', 'hello bob', { id: 'p1', type: 'chat' });
    await until(() => relay.got.some((g) => g.el.attr('id') === 'p1'), 20_000, 'alice message at the relay');
    await relay.svc.send(parseXml(`<message from='bob@b.example/phone' to='alice@a.example' type='chat' id='p2'><body>hello alice</body></message>`));
    const got = await alice.waitFor((e) => e.event === 'message' && e.id === 'p2', 20_000);
    t.is(got.body, 'hello alice');
    t.is(relay.metrics.get('s2s_bidi_total'), 0);
    const sessions = relay.svc.sessions();
    t.true(sessions.every((s) => !s.bidi), JSON.stringify(sessions));
    t.true(sessions.some((s) => s.direction === 'in' && s.state === 'authed' && s.stanzas.in >= 1), JSON.stringify(sessions));
    t.true(sessions.some((s) => s.direction === 'out' && s.state === 'authed' && s.stanzas.out >= 1), JSON.stringify(sessions));
    t.deepEqual(relay.undeliverable, []);
  } catch (err) {
    t.log(prosody.logTail(80));
    throw err;
  }
});

/**
 * Bad input against the inbound listener over real sockets: each case checks
 * the <stream:error> condition a raw client receives, and that another
 * (authenticated) session on the same listener keeps working afterwards.
 * The raw client plays a.example's server; Y (an S2SService serving a.example)
 * is a.example's authoritative server for dialback.
 */
import test, { type ExecutionContext } from 'ava';
import { RawClient, dialbackStream, header, service, until, type Harness } from './_util.ts';
import { dialbackKey } from '../../src/s2s/dialback-key.ts';
import { SimRuntime } from './_sim.ts';

interface Env {
  X: Harness;
  Y: Harness;
}

async function env(t: ExecutionContext): Promise<Env> {
  const X = await service(t, { local: ['a.example'], served: ['b.example', 'c.example'], tls: 'off', maxStanzaBytes: 4096 });
  const Y = await service(t, { local: ['b.example', 'c.example'], served: ['a.example'], tls: 'off' });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  return { X, Y };
}

/** Opens a stream a.example -> b.example and authenticates it by dialback (key from Y's secret). */
const authed = (t: ExecutionContext, e: Env, to = 'b.example'): Promise<RawClient> => dialbackStream(t, e.X, e.Y, to);

async function stillWorks(t: ExecutionContext, e: Env, good: RawClient, tag: string): Promise<void> {
  const before = e.X.got.length;
  good.send(`<message from='alice@a.example' to='bob@b.example' id='${tag}'><body>ok</body></message>`);
  await until(() => e.X.got.length === before + 1, 5000, 'message on the good session');
  t.is(e.X.got.at(-1)!.el.attr('id'), tag);
  t.false(good.closed);
}

const cases: Array<{ name: string; want: string; authed?: boolean; input: (id?: string) => string; rawHeader?: string }> = [
  { name: 'malformed XML', want: 'not-well-formed', input: () => `<message from='alice@a.example' to='bob@b.example'><body>x</bdy></message>` },
  { name: 'DTD (billion laughs)', want: 'restricted-xml', rawHeader: `<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>`, input: () => '' },
  { name: 'comment', want: 'restricted-xml', input: () => `<!-- hello -->` },
  { name: 'processing instruction', want: 'restricted-xml', input: () => `<?evil stuff?>` },
  { name: 'oversized stanza', want: 'policy-violation', authed: true, input: () => `<message from='alice@a.example' to='bob@b.example'><body>${'x'.repeat(5000)}</body></message>` },
  { name: 'wrong stream namespace', want: 'invalid-namespace', rawHeader: `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' version='1.0'>`, input: () => '' },
  { name: 'wrong streams namespace', want: 'invalid-namespace', rawHeader: `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='urn:wrong' to='b.example' version='1.0'>`, input: () => '' },
  { name: 'unknown prefix', want: 'bad-namespace-prefix', input: () => `<foo:message from='alice@a.example' to='bob@b.example'/>` },
  { name: 'stream to a domain not served', want: 'host-unknown', rawHeader: header('a.example', 'zzz.example'), input: () => '' },
  { name: 'spoofed from', want: 'invalid-from', authed: true, input: () => `<message from='mallory@evil.example' to='bob@b.example'/>` },
  { name: 'from a local domain not authenticated on this stream', want: 'invalid-from', authed: true, input: () => `<message from='x@sub.a.example' to='bob@b.example'/>` },
  { name: 'stanza to a domain not served', want: 'host-unknown', authed: true, input: () => `<message from='alice@a.example' to='bob@zzz.example'/>` },
  { name: 'stanza without to', want: 'improper-addressing', authed: true, input: () => `<message from='alice@a.example'/>` },
  { name: 'stanza before auth', want: 'not-authorized', input: () => `<message from='alice@a.example' to='bob@b.example'/>` },
  { name: 'unknown element after auth', want: 'unsupported-stanza-type', authed: true, input: () => `<foo xmlns='urn:x' from='alice@a.example' to='bob@b.example'/>` },
  { name: 'bad dialback key', want: 'not-authorized', input: () => `<db:result from='a.example' to='b.example'>0000</db:result>` },
];

for (const c of cases) {
  test(`bad input: ${c.name} -> ${c.want}`, async (t) => {
    const e = await env(t);
    const good = await authed(t, e);
    const bad = c.authed ? await authed(t, e) : await RawClient.connect(t, e.X.port);
    if (!c.authed) bad.send(c.rawHeader ?? header('a.example', 'b.example'));
    bad.send(c.input());
    t.is(await bad.streamError(), c.want);
    t.is(e.X.metrics.get('s2s_stream_errors_total', { condition: c.want }), 1);
    t.is(e.X.got.length, 0);
    await stillWorks(t, e, good, 'after');
  });
}

test('bad input byte by byte still yields the same error', async (t) => {
  const e = await env(t);
  const bad = await RawClient.connect(t, e.X.port);
  const all = header('a.example', 'b.example') + `<!-- x -->`;
  for (const b of Buffer.from(all)) {
    bad.send(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  t.is(await bad.streamError(), 'restricted-xml');
});

test('piggybacked second domain pair on one stream (XEP-0220 §2.4)', async (t) => {
  const e = await env(t);
  const c = await authed(t, e);
  const id = (c.text.match(/<stream:stream [^>]*id='([0-9a-f]+)'/))![1];
  // not yet authenticated for c.example
  c.send(`<db:result from='a.example' to='c.example'>${dialbackKey(e.Y.secret, 'c.example', 'a.example', id)}</db:result>`);
  await c.waitFor(/<db:result from="c.example" to="a.example" type="valid"\/>/);
  c.send(`<message from='alice@a.example' to='carol@c.example' id='p'/>`);
  await until(() => e.X.got.length === 1);
  t.is(e.X.got[0].to, 'c.example');
});

test('authoritative role answers db:verify on an unauthenticated stream', async (t) => {
  const e = await env(t);
  const c = await RawClient.connect(t, e.X.port);
  c.send(header('a.example', 'b.example'));
  await c.waitFor(/<stream:features/);
  const key = dialbackKey(e.X.secret, 'a.example', 'b.example', 'S1');
  c.send(`<db:verify from='a.example' to='b.example' id='S1'>${key}</db:verify>`);
  c.send(`<db:verify from='a.example' to='b.example' id='S2'>${key}</db:verify>`);
  await c.waitFor(/<db:verify from="b.example" to="a.example" id="S1" type="valid"\/>/);
  await c.waitFor(/<db:verify from="b.example" to="a.example" id="S2" type="invalid"\/>/);
  t.false(c.closed);
});

test('TLS required: STARTTLS is marked required and dialback before TLS -> policy-violation', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'required' });
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', 'b.example'));
  const features = (await c.waitFor(/<stream:features>.*<\/stream:features>/))[0];
  t.regex(features, /<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>/);
  t.notRegex(features, /dialback/);
  c.send(`<db:result from='a.example' to='b.example'>abcd</db:result>`);
  t.is(await c.streamError(), 'policy-violation');
});

test('TLS off: STARTTLS is not offered and a starttls request -> policy-violation', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', 'b.example'));
  const features = (await c.waitFor(/<stream:features>.*<\/stream:features>/))[0];
  t.notRegex(features, /starttls/);
  t.regex(features, /<dialback xmlns="urn:xmpp:features:dialback">/);
  c.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  t.is(await c.streamError(), 'policy-violation');
});

test('peer stream error closes the session without an error of ours', async (t) => {
  const e = await env(t);
  const c = await authed(t, e);
  c.send(`<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>`);
  await c.waitFor(/<\/stream:stream>/);
  await until(() => c.closed);
  t.notRegex(c.text, /<stream:error>/);
  t.is(e.X.metrics.get('s2s_peer_stream_errors_total', { condition: 'conflict' }), 1);
  t.is(e.X.metrics.get('s2s_stream_errors_total'), 0);
});

test('garbage instead of a TLS handshake after <proceed/>: session dropped, others unaffected', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional' });
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', 'b.example'));
  await c.waitFor(/<stream:features>/);
  c.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  await c.waitFor(/<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
  c.send('this is not TLS at all\r\n'.repeat(20));
  await until(() => c.closed);
  t.is(X.metrics.get('s2s_tls_failures_total', { direction: 'in' }), 1);
  await until(() => X.svc.sessions().length === 0);
  const d = await RawClient.connect(t, X.port);
  d.send(header('a.example', 'b.example'));
  await d.waitFor(/<stream:features>/);
  t.false(d.closed);
});

test('silent inbound connection: connection-timeout after authMs (simulated time)', async (t) => {
  const rt = new SimRuntime();
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off', runtime: rt, timeouts: { authMs: 30_000 } });
  const c = await RawClient.connect(t, X.port);
  await until(() => X.svc.sessions().length === 1, 5000, 'session');
  t.deepEqual(rt.pending(), [30_000], 'the auth timer, nothing else');
  await rt.advance(29_999);
  t.false(c.closed, 'still open 1 ms before authMs');
  t.is(c.text, '');
  await rt.advance(1);
  t.is(await c.streamError(), 'connection-timeout');
  t.is(X.metrics.get('s2s_stream_errors_total', { condition: 'connection-timeout', direction: 'in' }), 1);
});

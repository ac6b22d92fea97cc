import test from 'ava';
import dgram from 'node:dgram';
import { Metrics } from '../../../src/obs/metrics.ts';
import { resolveS2S, orderSrv, parseRoute, findRoute, DnsError, type ResolverOptions } from '../../../src/s2s/dns/index.ts';
import { dnsServer, srv } from '../../helpers/dns-server.ts';

/** Seeded PRNG (mulberry32) so weighted orders are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('a static route wins over DNS: exact domain first, then the longest *.suffix', async (t) => {
  const { server, queries } = await dnsServer(t, { '_xmpp-server._tcp.b.example': { SRV: [srv(0, 0, 5269, 'x.b.example')] } });
  const routes = { 'b.example': '10.1.0.5:5270', '*.b.example': '10.1.0.6', '*.muc.b.example': 'tls:[::1]:5223', '*': 'fallback.example:1' };
  const opts: ResolverOptions = { routes, servers: [server], timeoutMs: 2000 };
  t.deepEqual(await resolveS2S('B.example.', opts), [{ host: '10.1.0.5', port: 5270, directTls: false, name: '10.1.0.5' }]);
  t.deepEqual(await resolveS2S('pubsub.b.example', opts), [{ host: '10.1.0.6', port: 5269, directTls: false, name: '10.1.0.6' }]);
  t.deepEqual(await resolveS2S('room.muc.b.example', opts), [{ host: '::1', port: 5223, directTls: true, name: '::1' }]);
  t.is((await resolveS2S('c.example', opts))[0].host, 'fallback.example');
  t.deepEqual(queries, [], 'no DNS query when a route matches');
});

test('bad static routes give DNS_BAD_ROUTE', (t) => {
  for (const bad of ['', 'host:0', 'host:70000', 'a b:1', 'host:port', '-x-:1', '[1.2.3.4]:5', '[::1']) {
    const err = t.throws(() => parseRoute(bad), { instanceOf: DnsError }, bad);
    t.is(err?.code, 'DNS_BAD_ROUTE');
    t.true(err?.message.includes('expected'), `${bad}: the message says what was expected: ${err?.message}`);
  }
  t.is(findRoute('b.example', { 'c.example': 'x:1' }), undefined);
});

test('SRV: xmpps-server and xmpp-server records merge into one list ordered by priority; targets resolve to addresses', async (t) => {
  const { server } = await dnsServer(t, {
    '_xmpps-server._tcp.b.example': { SRV: [srv(5, 0, 5270, 'tls.b.example'), srv(20, 0, 443, 'tls2.b.example')] },
    '_xmpp-server._tcp.b.example': { SRV: [srv(10, 0, 5269, 'plain.b.example'), srv(1, 0, 15269, 'first.b.example')] },
    'tls.b.example': { A: ['127.0.0.21'], AAAA: ['::21'] },
    'tls2.b.example': { A: ['127.0.0.22'] },
    'plain.b.example': { AAAA: ['fd00::5'] },
    'first.b.example': { A: ['127.0.0.20'] },
  });
  const got = await resolveS2S('b.example', { servers: [server], timeoutMs: 2000 });
  t.deepEqual(got, [
    { host: '127.0.0.20', port: 15269, directTls: false, name: 'first.b.example' },
    { host: '127.0.0.21', port: 5270, directTls: true, name: 'tls.b.example' },
    { host: '::21', port: 5270, directTls: true, name: 'tls.b.example' },
    { host: 'fd00::5', port: 5269, directTls: false, name: 'plain.b.example' },
    { host: '127.0.0.22', port: 443, directTls: true, name: 'tls2.b.example' },
  ]);
});

test('preferDirectTls puts xmpps-server first among equal priorities', async (t) => {
  const { server } = await dnsServer(t, {
    '_xmpps-server._tcp.b.example': { SRV: [srv(10, 1, 5270, 'tls.b.example')] },
    '_xmpp-server._tcp.b.example': { SRV: [srv(10, 1000, 5269, 'plain.b.example'), srv(5, 0, 5269, 'best.b.example')] },
    'tls.b.example': { A: ['127.0.0.21'] },
    'plain.b.example': { A: ['127.0.0.22'] },
    'best.b.example': { A: ['127.0.0.23'] },
  });
  for (let seed = 1; seed <= 5; seed++) {
    const got = await resolveS2S('b.example', { servers: [server], timeoutMs: 2000, preferDirectTls: true, random: seeded(seed) });
    t.deepEqual(got.map((g) => g.host), ['127.0.0.23', '127.0.0.21', '127.0.0.22'], `seed ${seed}`);
  }
});

test('weights order records of equal priority as RFC 2782 weighted random selection (seeded)', async (t) => {
  const { server } = await dnsServer(t, {
    '_xmpp-server._tcp.b.example': { SRV: [srv(0, 60, 1, 'h.b.example'), srv(0, 30, 2, 'h.b.example'), srv(0, 10, 3, 'h.b.example'), srv(0, 0, 4, 'h.b.example')] },
    'h.b.example': { A: ['127.0.0.30'] },
  });
  const seed = 20261123;
  const rnd = seeded(seed);
  const firsts = new Map<number, number>();
  const lasts = new Map<number, number>();
  const runs = 60;
  for (let i = 0; i < runs; i++) {
    const ports = (await resolveS2S('b.example', { servers: [server], timeoutMs: 2000, random: rnd })).map((x) => x.port);
    t.deepEqual([...ports].sort(), [1, 2, 3, 4], `seed ${seed}: every record once`);
    firsts.set(ports[0], (firsts.get(ports[0]) ?? 0) + 1);
    lasts.set(ports[3], (lasts.get(ports[3]) ?? 0) + 1);
  }
  // weight 60 of 100 comes first most often; the zero-weight record is almost always last
  t.true((firsts.get(1) ?? 0) > runs * 0.4, `seed ${seed}: ${JSON.stringify([...firsts])}`);
  t.true((firsts.get(1) ?? 0) > (firsts.get(3) ?? 0), `seed ${seed}`);
  t.true((lasts.get(4) ?? 0) > runs * 0.8, `seed ${seed}: ${JSON.stringify([...lasts])}`);
});

test('orderSrv follows the running-sum rule exactly for given random draws', (t) => {
  const recs = [{ priority: 0, weight: 0, id: 'z' }, { priority: 0, weight: 10, id: 'a' }, { priority: 0, weight: 30, id: 'b' }, { priority: 1, weight: 0, id: 'c' }];
  const draws = (...xs: number[]) => () => xs.shift()!;
  // sum 40: draw 0 -> 'z' (zero weight first, running sum 0 >= 0)
  t.deepEqual(orderSrv(recs, draws(0, 0.99)).map((r) => r.id), ['z', 'b', 'a', 'c']);
  // draw 0.5 -> floor(0.5*41)=20 -> running sums 0,10,40 -> 'b'; then sum 10: 0.95 -> 10 -> 'a'
  t.deepEqual(orderSrv(recs, draws(0.5, 0.95, 0)).map((r) => r.id), ['b', 'a', 'z', 'c']);
});

test("an SRV target of '.' means no service: typed error, no A/AAAA fallback", async (t) => {
  const { server, queries } = await dnsServer(t, {
    '_xmpp-server._tcp.b.example': { SRV: [srv(0, 0, 0, '.')] },
    'b.example': { A: ['127.0.0.40'] },
  });
  const metrics = new Metrics();
  const err = await t.throwsAsync(resolveS2S('b.example', { servers: [server], timeoutMs: 2000, metrics }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_SERVICE_UNAVAILABLE');
  t.false(queries.some((q) => q.startsWith('b.example/')), 'A not queried');
  t.is(metrics.get('dns_failures_total', { code: 'DNS_SERVICE_UNAVAILABLE' }), 1);
});

test("xmpps-server '.' only disables Direct TLS; xmpp-server records still used (XEP-0368 §6)", async (t) => {
  const { server } = await dnsServer(t, {
    '_xmpps-server._tcp.b.example': { SRV: [srv(0, 0, 0, '.')] },
    '_xmpp-server._tcp.b.example': { SRV: [srv(0, 0, 5269, 'h.b.example')] },
    'h.b.example': { A: ['127.0.0.41'] },
    'c.example': { A: ['127.0.0.42'] },
    '_xmpps-server._tcp.c.example': { SRV: [srv(0, 0, 0, '.')] },
  });
  t.deepEqual(await resolveS2S('b.example', { servers: [server], timeoutMs: 2000 }), [{ host: '127.0.0.41', port: 5269, directTls: false, name: 'h.b.example' }]);
  // '.' for xmpps and nothing for xmpp: SRV is in use, so still no A fallback
  const err = await t.throwsAsync(resolveS2S('c.example', { servers: [server], timeoutMs: 2000 }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_SERVICE_UNAVAILABLE');
});

test('no SRV (NXDOMAIN) falls back to A and AAAA of the domain on port 5269', async (t) => {
  const metrics = new Metrics();
  const { server } = await dnsServer(t, { 'b.example': { A: ['127.0.0.50', '127.0.0.51'], AAAA: ['::1'] } });
  t.deepEqual(await resolveS2S('b.example', { servers: [server], timeoutMs: 2000, metrics }), [
    { host: '127.0.0.50', port: 5269, directTls: false, name: 'b.example' },
    { host: '127.0.0.51', port: 5269, directTls: false, name: 'b.example' },
    { host: '::1', port: 5269, directTls: false, name: 'b.example' },
  ]);
  t.is(metrics.get('dns_resolutions_total', { via: 'a' }), 1);
});

test('a domain with no records at all gives DNS_NOT_FOUND', async (t) => {
  const { server } = await dnsServer(t, {});
  const metrics = new Metrics();
  const err = await t.throwsAsync(resolveS2S('nowhere.example', { servers: [server], timeoutMs: 2000, metrics }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_NOT_FOUND');
  t.is(metrics.get('dns_failures_total', { code: 'DNS_NOT_FOUND' }), 1);
});

test('SRV targets without addresses are skipped; none left gives DNS_NOT_FOUND', async (t) => {
  const { server } = await dnsServer(t, {
    '_xmpp-server._tcp.b.example': { SRV: [srv(0, 0, 1, 'gone.b.example'), srv(1, 0, 2, 'h.b.example')] },
    'h.b.example': { A: ['127.0.0.60'] },
    '_xmpp-server._tcp.c.example': { SRV: [srv(0, 0, 1, 'gone.c.example')] },
  });
  t.deepEqual((await resolveS2S('b.example', { servers: [server], timeoutMs: 2000 })).map((x) => x.port), [2]);
  const err = await t.throwsAsync(resolveS2S('c.example', { servers: [server], timeoutMs: 2000 }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_NOT_FOUND');
});

test('a server that never answers gives DNS_TIMEOUT within the deadline', async (t) => {
  const { server } = await dnsServer(t, {}, { silent: new Set(['_xmpp-server._tcp.b.example', '_xmpps-server._tcp.b.example', 'b.example']) });
  const metrics = new Metrics();
  const t0 = Date.now();
  const err = await t.throwsAsync(resolveS2S('b.example', { servers: [server], timeoutMs: 300, metrics }), { instanceOf: DnsError });
  const took = Date.now() - t0;
  t.is(err?.code, 'DNS_TIMEOUT');
  t.true(took < 3000, `took ${took} ms`);
  t.is(metrics.get('dns_failures_total', { code: 'DNS_TIMEOUT' }), 1);
});

test('a dead DNS port (nothing listening, datagrams dropped) also gives DNS_TIMEOUT', async (t) => {
  // a bound UDP socket that reads and never replies
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  t.teardown(() => sock.close());
  const err = await t.throwsAsync(resolveS2S('b.example', { servers: [`127.0.0.1:${sock.address().port}`], timeoutMs: 250 }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_TIMEOUT');
});

test('one SRV service timing out while the other answers still yields targets', async (t) => {
  const { server } = await dnsServer(
    t,
    { '_xmpp-server._tcp.b.example': { SRV: [srv(0, 0, 5269, 'h.b.example')] }, 'h.b.example': { A: ['127.0.0.70'] } },
    { silent: new Set(['_xmpps-server._tcp.b.example']) },
  );
  t.deepEqual(await resolveS2S('b.example', { servers: [server], timeoutMs: 2000, tries: 1 }), [{ host: '127.0.0.70', port: 5269, directTls: false, name: 'h.b.example' }]);
});

test('SERVFAIL on the SRV queries gives DNS_FAILURE, not an A fallback', async (t) => {
  const { server, queries } = await dnsServer(t, { 'b.example': { A: ['127.0.0.80'] } }, { servfail: new Set(['_xmpp-server._tcp.b.example', '_xmpps-server._tcp.b.example']) });
  const err = await t.throwsAsync(resolveS2S('b.example', { servers: [server], timeoutMs: 2000, tries: 1 }), { instanceOf: DnsError });
  t.is(err?.code, 'DNS_FAILURE');
  t.false(queries.some((q) => q.startsWith('b.example/')));
});

test('invalid domains and DNS server strings give typed errors', async (t) => {
  const bad = await t.throwsAsync(resolveS2S('a..example', {}), { instanceOf: DnsError });
  t.is(bad?.code, 'DNS_BAD_DOMAIN');
  const bad2 = await t.throwsAsync(resolveS2S('a/b', {}), { instanceOf: DnsError });
  t.is(bad2?.code, 'DNS_BAD_DOMAIN');
  const srvErr = await t.throwsAsync(resolveS2S('b.example', { servers: ['not an ip'] }), { instanceOf: DnsError });
  t.is(srvErr?.code, 'DNS_FAILURE');
});

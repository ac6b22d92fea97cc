/** The wire DNS client (TLSA, AD bit) and RFC 7673 target resolution against a real DNS server (dns2). */
import test from 'ava';
import { queryWire } from '../../../src/s2s/dns/wire.ts';
import { resolveSecure, type SecureResolveOptions } from '../../../src/s2s/dns/secure.ts';
import { DnsError } from '../../../src/s2s/dns/index.ts';
import { dnsServer, srv, type Zone } from '../../helpers/dns-server.ts';

const EE = '3 1 1 ' + 'ab'.repeat(32);
const ZONE: Zone = {
  '_xmpp-server._tcp.a.example': { SRV: [srv(0, 0, 5299, 'xmpp.a.example')] },
  'xmpp.a.example': { A: ['127.0.0.9'] },
  '_5299._tcp.xmpp.a.example': { TLSA: [EE] },
};
const server = (s: string) => ({ host: s.split(':')[0], port: Number(s.split(':')[1]) });
const base = (s: string, o: Partial<SecureResolveOptions> = {}): SecureResolveOptions => ({ servers: [server(s)], adTrusted: true, dane: true, pinned: { srv: [], a: {}, tlsa: [] }, timeoutMs: 2000, ...o });

test('queryWire asks with the AD bit and reads TLSA records and the answer AD bit', async (t) => {
  const dns = await dnsServer(t, ZONE, { ad: new Set(['_5299._tcp.xmpp.a.example']) });
  const a = await queryWire(server(dns.server), '_5299._tcp.xmpp.a.example', 'TLSA');
  t.true(a.ad);
  t.deepEqual(a.tlsa.map((r) => [r.usage, r.selector, r.matchingType, r.data.toString('hex')]), [[3, 1, 1, 'ab'.repeat(32)]]);
  const b = await queryWire(server(dns.server), 'xmpp.a.example', 'A');
  t.false(b.ad);
  t.deepEqual(b.addresses, ['127.0.0.9']);
  t.is((await queryWire(server(dns.server), 'nope.a.example', 'A')).rcode, 3);
  t.deepEqual(dns.askedAd, [true, true, true], 'every query sets AD');
});

test('secure SRV, address and TLSA: the target carries its validated TLSA records', async (t) => {
  const dns = await dnsServer(t, ZONE, { ad: true });
  const [tg] = await resolveSecure('a.example', base(dns.server));
  t.like(tg, { host: '127.0.0.9', port: 5299, name: 'xmpp.a.example', directTls: false });
  t.like(tg.tlsa, { state: 'secure', name: '_5299._tcp.xmpp.a.example', pinned: false });
});

test('without a (trusted) AD bit: TLSA is insecure; an insecure SRV means no DANE at all (RFC 7673 §3.1)', async (t) => {
  const noAd = await dnsServer(t, ZONE, { ad: false });
  t.like((await resolveSecure('a.example', base(noAd.server)))[0].tlsa, { state: 'none' }, 'SRV not validated: TLSA not even asked');
  t.false(noAd.queries.some((q) => q.startsWith('_5299')));
  const tlsaOnlyUnsigned = await dnsServer(t, ZONE, { ad: new Set(['_xmpp-server._tcp.a.example', '_xmpps-server._tcp.a.example', 'xmpp.a.example']) });
  t.like((await resolveSecure('a.example', base(tlsaOnlyUnsigned.server)))[0].tlsa, { state: 'insecure' });
  const all = await dnsServer(t, ZONE, { ad: true });
  t.like((await resolveSecure('a.example', base(all.server, { adTrusted: false })))[0].tlsa, { state: 'none' }, 'AD from an untrusted resolver counts for nothing');
});

test('a TLSA lookup that fails (SERVFAIL: bogus) removes the target (RFC 7673 §3.3); pinned records need no DNS', async (t) => {
  const dns = await dnsServer(t, ZONE, { ad: true, servfail: new Set(['_5299._tcp.xmpp.a.example']) });
  await t.throwsAsync(resolveSecure('a.example', base(dns.server)), { instanceOf: DnsError, code: 'DNS_NOT_FOUND' });
  const none = await dnsServer(t, {});
  const pinned = await resolveSecure('a.example', base(none.server, { pinned: { srv: [{ target: 'x.a.example', port: 5270, priority: 0, weight: 0, direct_tls: false }], a: { 'x.a.example': ['127.0.0.8'] }, tlsa: [EE] } }));
  t.like(pinned[0], { host: '127.0.0.8', port: 5270 });
  t.like(pinned[0].tlsa, { state: 'secure', pinned: true, name: '_5270._tcp.x.a.example' });
  t.deepEqual(none.queries, []);
  // a static route with an IP: the TLSA name is the domain's
  const routed = await resolveSecure('a.example', base(none.server, { route: { host: '127.0.0.7', port: 5269, directTls: false }, pinned: { srv: [], a: {}, tlsa: [EE] } }));
  t.like(routed[0], { host: '127.0.0.7', port: 5269 });
  t.is(routed[0].tlsa.name, '_5269._tcp.a.example');
});

test('no SRV: the domain itself on 5269 (RFC 6120 §3.2.2); SRV target "." means no service', async (t) => {
  const dns = await dnsServer(t, { 'a.example': { A: ['127.0.0.6'] }, '_5269._tcp.a.example': { TLSA: [EE] } }, { ad: true });
  const [tg] = await resolveSecure('a.example', base(dns.server));
  t.like(tg, { host: '127.0.0.6', port: 5269 });
  t.like(tg.tlsa, { state: 'secure' });
  const dot = await dnsServer(t, { '_xmpp-server._tcp.a.example': { SRV: [srv(0, 0, 0, '.')] } }, { ad: true });
  await t.throwsAsync(resolveSecure('a.example', base(dot.server)), { code: 'DNS_SERVICE_UNAVAILABLE' });
});

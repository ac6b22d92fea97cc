/**
 * Per-domain S2S trust against a REAL Prosody serving a.example, with DNS
 * (SRV, A, TLSA) from a dns2 server on loopback that sets the AD bit as a
 * validating resolver would: DANE-EE and DANE-TA accepted, a mismatch refused
 * with policy-violation and logged with the record and certificate digest,
 * a missing AD bit per the rule's dane mode, pinned TLSA records, and the
 * rule's TLS requirements against Prosody with TLS off and limited to TLS 1.2.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { ProsodyServer, prosodyAvailable, type ProsodyOptions } from '../helpers/prosody.ts';
import { XmppClient } from '../helpers/xmpp-client.ts';
import { dnsServer, srv, type DnsServerOptions } from '../helpers/dns-server.ts';
import { parseXml } from '../../src/xml/index.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { TrustPolicy, defaultRule, type TrustRule } from '../../src/s2s/trust/index.ts';
import { formatStatus } from '../../src/cli/status.ts';
import type { RelayStatus } from '../../src/relay/relay.ts';
import { service, tempDir, until, type Harness } from './_util.ts';
import { derOf, issue, tlsaFor } from './trust/certs.ts';

const run = prosodyAvailable() ? test.serial : test.skip;
let nextIp = 30;

interface Setup {
  relay: Harness;
  prosody: ProsodyServer;
  logs: Array<Record<string, unknown>>;
  /** DER of the certificate Prosody presents */
  cert: Buffer;
}

/**
 * A relay serving b.example with `rule` for a.example, a Prosody a.example
 * peering with it, and DNS for a.example: SRV -> a.example:<s2s port>, its A
 * record, and TLSA records from `tlsa(cert)` at _<port>._tcp.a.example.
 */
async function setup(t: ExecutionContext, o: { rule: Partial<TrustRule>; tlsa?: (cert: Buffer) => string[]; dns?: DnsServerOptions; prosody?: Partial<ProsodyOptions>; route?: boolean; secret?: Buffer }): Promise<Setup> {
  t.timeout(90_000);
  const ip = `127.0.0.${nextIp++}`;
  const zone = {};
  const dns = await dnsServer(t, zone, o.dns ?? { ad: true });
  const logs: Array<Record<string, unknown>> = [];
  const rule: TrustRule = { ...defaultRule(false), domains: ['a.example'], ...o.rule };
  const relay = await service(t, {
    local: ['a.example'], served: ['b.example'], tls: 'optional',
    trust: new TrustPolicy({ rules: [rule, defaultRule(false)], dnssec: { servers: [dns.server], trusted: false } }),
    logger: pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l)) }),
    ...(o.secret ? { secret: o.secret } : {}),
  });
  const prosody = await ProsodyServer.start({
    domain: 'a.example', ip, peers: { 'b.example': { host: '127.0.0.1', port: relay.port } }, s2sTls: 'optional',
    users: [{ user: 'alice', password: 'pw' }], fastUsers: true, ...o.prosody,
  });
  t.teardown(() => prosody.stop());
  const cert = derOf(prosody.certPath);
  Object.assign(zone, {
    '_xmpp-server._tcp.a.example': { SRV: [srv(0, 0, prosody.s2sPort, 'a.example')] },
    'a.example': { A: [ip] },
    [`_${prosody.s2sPort}._tcp.a.example`]: { TLSA: o.tlsa?.(cert) ?? [] },
  });
  if (o.route) relay.routes['a.example'] = `${ip}:${prosody.s2sPort}`;
  return { relay, prosody, logs, cert };
}

const message = (id: string) => parseXml(`<message from='bob@b.example/x' to='alice@a.example' type='chat' id='${id}'><body>${id}</body></message>`);
const outSession = (h: Harness) => h.svc.sessions().find((s) => s.direction === 'out');

/** send() is refused with remote-server-not-found; the relay counted the trust refusal. */
async function refused(t: ExecutionContext, s: Setup, reason: string): Promise<StanzaError> {
  const err = await t.throwsAsync(s.relay.svc.send(message(`refused-${reason}`)), { instanceOf: StanzaError });
  t.is(err?.condition, 'remote-server-not-found');
  t.is(s.relay.metrics.get('s2s_trust_refusals_total', { reason, direction: 'out' }), 1, `one ${reason} refusal`);
  t.is(s.relay.metrics.get('s2s_stream_errors_total', { condition: 'policy-violation', direction: 'out' }), 1, 'closed with policy-violation');
  return err!;
}

run('DANE-EE: a matching TLSA record with the AD bit authenticates Prosody by DANE; the message is delivered', async (t) => {
  const s = await setup(t, { rule: { dane: 'required', min_tls_version: 'TLSv1.3' }, tlsa: (c) => [tlsaFor(c, 3, 1, 1)] });
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: s.prosody.ip, port: s.prosody.c2sPort });
  t.teardown(() => alice.close());
  await s.relay.svc.send(message('dane-ee'));
  const got = await alice.waitFor((e) => e.event === 'message' && e.id === 'dane-ee', 20_000);
  t.is(got.body, 'dane-ee');
  t.like(outSession(s.relay), { state: 'authed', tls: true, auth: 'dialback', peerCert: 'dane' });
  t.is(s.relay.metrics.get('s2s_dane_total', { result: 'match' }), 1);
  t.like(s.logs.find((l) => l.msg === 'peer certificate matches its TLSA record (DANE)'), { usage: 'DANE-EE', tlsa_name: `_${s.prosody.s2sPort}._tcp.a.example` });
  const status = formatStatus({ site: 's', startedAt: '', uptimeS: 0, links: [], sessions: s.relay.svc.sessions() } as RelayStatus);
  t.regex(status, /out\s+b\.example <-> a\.example\s+authed tls dialback cert DANE/);
});

run('a TLSA record that does not match refuses the session with policy-violation, logged with the record and the certificate digest', async (t) => {
  const wrong = `3 1 1 ${'00'.repeat(32)}`;
  const s = await setup(t, { rule: { dane: 'on' }, tlsa: () => [wrong] });
  const err = await refused(t, s, 'dane_mismatch');
  t.regex(err.text ?? '', /matches no TLSA record/);
  const line = s.logs.find((l) => String(l.msg).startsWith('DANE check failed'));
  t.truthy(line, 'one log line for the failure');
  t.deepEqual(line?.tlsa, [wrong]);
  t.is(line?.cert_sha256, createHash('sha256').update(s.cert).digest('hex'));
  t.is(s.relay.metrics.get('s2s_dane_total', { result: 'mismatch' }), 1);
  await s.prosody.waitForLog(/policy-violation/, 10_000);
});

run('TLSA without the AD bit: dane required refuses; dane on ignores it and falls back to dialback', async (t) => {
  const secret = randomBytes(32);
  // SRV and A validated, the TLSA answer not
  const noAd = { ad: new Set(['_xmpp-server._tcp.a.example', '_xmpps-server._tcp.a.example', 'a.example']) };
  // the permissive relay is the one Prosody dials back (same dialback secret for both)
  const lax = await setup(t, { rule: { dane: 'on' }, tlsa: (c) => [tlsaFor(c, 3, 1, 1)], dns: noAd, secret });
  await lax.relay.svc.send(message('ad-missing-on'));
  t.like(outSession(lax.relay), { state: 'authed', auth: 'dialback', peerCert: undefined });
  t.is(lax.relay.metrics.get('s2s_dane_total', { result: 'insecure_ignored' }), 1);

  const strict = await setup(t, { rule: { dane: 'required' }, tlsa: (c) => [tlsaFor(c, 3, 1, 1)], dns: noAd, secret });
  const err = await refused(t, strict, 'dane_required');
  t.regex(err.text ?? '', /not DNSSEC-validated/);
});

run('pinned TLSA records: no DNS at all; the right pin is accepted, a wrong one refused', async (t) => {
  const secret = randomBytes(32);
  const own = issue(tempDir(t), 'a.example', 'PIN');
  const certificate = { cert: own.chainFile, key: own.keyFile };
  const good = await setup(t, { rule: { dane: 'required', tlsa: [tlsaFor(own.leaf, 3, 0, 2)] }, route: true, secret, dns: { ad: false }, prosody: { certificate } });
  await good.relay.svc.send(message('pinned'));
  t.like(outSession(good.relay), { state: 'authed', peerCert: 'dane' });
  t.like(good.logs.find((l) => l.usage === 'DANE-EE'), { pinned: true });

  const bad = await setup(t, { rule: { dane: 'required', tlsa: [`3 0 2 ${'11'.repeat(64)}`] }, route: true, secret, dns: { ad: false }, prosody: { certificate } });
  await refused(t, bad, 'dane_mismatch');
});

run('DANE-TA: Prosody with a CA-issued certificate is accepted by a TLSA record for the CA', async (t) => {
  const ca = issue(tempDir(t), 'a.example', 'TA');
  const s = await setup(t, { rule: { dane: 'required' }, tlsa: () => [tlsaFor(ca.ca, 2, 0, 1)], prosody: { certificate: { cert: ca.chainFile, key: ca.keyFile } } });
  await s.relay.svc.send(message('dane-ta'));
  t.like(outSession(s.relay), { state: 'authed', peerCert: 'dane' });
  t.like(s.logs.find((l) => l.usage === 'DANE-TA'), { matched: tlsaFor(ca.ca, 2, 0, 1) });
});

run('TLS required for a.example, Prosody without TLS: refused in both directions', async (t) => {
  const s = await setup(t, { rule: { tls: 'required' }, route: true, prosody: { s2sTls: 'off' } });
  await refused(t, s, 'tls_required');
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: s.prosody.ip, port: s.prosody.c2sPort });
  t.teardown(() => alice.close());
  alice.sendMessage('bob@b.example', 'no tls', { id: 'in-1', type: 'chat' });
  await until(() => s.relay.metrics.get('s2s_trust_refusals_total', { direction: 'in' }) > 0 || s.relay.svc.sessions().some((x) => x.direction === 'in' && x.state === 'authed'), 20_000, 'the inbound stream to be refused');
  t.is(s.relay.svc.sessions().filter((x) => x.direction === 'in' && x.state === 'authed').length, 0, 'no inbound session authenticated');
  t.deepEqual(s.relay.got, [], 'nothing from Prosody was taken');
});

run('lowest TLS version: Prosody limited to TLS 1.2 is refused by a TLSv1.3 rule both ways', async (t) => {
  const s = await setup(t, { rule: { min_tls_version: 'TLSv1.3' }, route: true, prosody: { sslExtra: 'protocol = "tlsv1_2";' } });
  const err = await refused(t, s, 'tls_version');
  t.regex(err.text ?? '', /TLSv1\.2 is below the TLSv1\.3/);
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: s.prosody.ip, port: s.prosody.c2sPort });
  t.teardown(() => alice.close());
  alice.sendMessage('bob@b.example', 'old tls', { id: 'in-2', type: 'chat' });
  await until(() => s.relay.metrics.get('s2s_trust_refusals_total', { reason: 'tls_version', direction: 'in' }) > 0, 20_000, 'the inbound TLS 1.2 stream to be refused');
  t.deepEqual(s.relay.got, []);
});

import test from 'ava';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Metrics } from '../../../src/obs/metrics.ts';
import { CertStore, generateSelfSigned, certIdentities, verifyPeerIdentity, assessPeer, CertError } from '../../../src/s2s/tls/index.ts';
import { buildSelfSignedDer, derToPem } from '../../../src/s2s/tls/x509.ts';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

function tmp(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-certs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('generated certificate has CN, dNSName and id-on-xmppAddr SANs and a matching EC key', (t) => {
  const pair = generateSelfSigned('b.example', { days: 10 });
  const x = new X509Certificate(pair.certPem);
  // node's own parser names the xmppAddr otherName: an independent check of the encoding
  t.is(x.subject, 'CN=b.example');
  t.regex(x.subjectAltName ?? '', /DNS:b\.example/);
  t.regex(x.subjectAltName ?? '', /othername:XmppAddr:b\.example/i);
  t.deepEqual(certIdentities(pair.certPem), { xmppAddrs: ['b.example'], dnsNames: ['b.example'], srvNames: [], cn: 'b.example' });
  t.true(x.verify(x.publicKey), 'self-signature verifies');
  t.true(x.checkPrivateKey(createPrivateKey(pair.keyPem)));
  t.is(x.publicKey.asymmetricKeyType, 'ec');
  const days = (Date.parse(x.validTo) - Date.now()) / 86400_000;
  t.true(days > 9.9 && days <= 10, `validity ${days} days`);
  t.false(x.ca);
});

test('RSA certificates are available and carry the same identities', (t) => {
  const pair = generateSelfSigned('muc.b.example', { keyType: 'rsa' });
  const x = new X509Certificate(pair.certPem);
  t.is(x.publicKey.asymmetricKeyType, 'rsa');
  t.true(x.verify(x.publicKey));
  t.deepEqual(verifyPeerIdentity('muc.b.example', x), { ok: true, via: 'xmppAddr' });
});

test('certificate generation rejects names that are not domains', (t) => {
  for (const bad of ['', '../etc/passwd', 'a b.example', '*.b.example', 'x/y']) {
    const err = t.throws(() => generateSelfSigned(bad), { instanceOf: CertError }, bad);
    t.is(err?.code, 'CERT_BAD_DOMAIN');
  }
});

function handshake(port: number, servername: string, secureContext?: tls.SecureContext): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, secureContext }, () => resolve(s));
    s.once('error', reject);
  });
}

test('SNI serves each domain its own certificate over a real TLS socket pair; unknown names get the default', async (t) => {
  const dir = tmp(t);
  const metrics = new Metrics();
  const served = new Set(['b.example', 'muc.b.example']);
  // trust set-up as an operator would pin self-signed peers: each side's `ca` holds the other's certificates
  const clientCert = new CertStore({ dir: join(dir, 'client') }).pairForDomain('a.example');
  const store = new CertStore({ dir: join(dir, 'server'), isServed: (d) => served.has(d), metrics, ca: [clientCert.certPem] });
  const serverCerts = [...served].map((d) => store.pairForDomain(d).certPem);
  const client = new CertStore({ dir: join(dir, 'client'), ca: serverCerts });
  const fallback = generateSelfSigned('default.invalid');
  const server = tls.createServer(
    { SNICallback: store.sniCallback(), cert: fallback.certPem, key: fallback.keyPem, requestCert: true, rejectUnauthorized: false, ca: [clientCert.certPem] },
    (s) => {
      s.on('error', () => {});
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const open = new Set<import('node:net').Socket>();
  server.on('connection', (c) => { open.add(c); c.on('close', () => open.delete(c)); });
  t.teardown(() => { for (const c of open) c.destroy(); server.close(); });
  const port = (server.address() as AddressInfo).port;

  const inbound: ReturnType<typeof assessPeer>[] = [];
  for (const d of served) {
    // wait for the server side too (TLS 1.3: the server finishes after the client)
    const [s, srv] = await Promise.all([
      handshake(port, d, client.forDomain('a.example')),
      new Promise<tls.TLSSocket>((r) => server.once('secureConnection', r)),
    ]);
    inbound.push(assessPeer(srv, 'a.example'));
    const peer = s.getPeerCertificate();
    t.is(peer.subject.CN, d);
    t.deepEqual(verifyPeerIdentity(d, peer), { ok: true, via: 'xmppAddr' });
    // pinned self-signed cert: chain validates and identity matches, so SASL EXTERNAL is possible
    const verdict = assessPeer(s, d);
    t.true(verdict.trusted, verdict.chainError);
    t.true(verdict.canExternal);
    t.false(assessPeer(s, 'other.example').canExternal);
    s.destroy();
  }
  // the server side sees and trusts the client certificate of a.example
  t.is(inbound.length, 2);
  for (const v of inbound) {
    t.true(v.trusted, v.chainError);
    t.true(v.canExternal, JSON.stringify(v));
  }

  // not served: the default certificate answers, nothing is generated for it
  const s = await handshake(port, 'evil.example');
  t.is(s.getPeerCertificate().subject.CN, 'default.invalid');
  t.false(assessPeer(s, 'evil.example').trusted);
  t.false(assessPeer(s, 'evil.example').identity.ok);
  s.destroy();
  t.is(metrics.get('tls_sni_unknown_total'), 1);
  t.is(metrics.get('tls_certs_generated_total'), 2);
  t.false(existsSync(join(dir, 'server', 'evil.example.pem')));

  // a client without the pinned CA sees an untrusted chain: dialback, not EXTERNAL
  const unpinned = await handshake(port, 'b.example', new CertStore({ dir: join(dir, 'client') }).forDomain('a.example'));
  const v = assessPeer(unpinned, 'b.example');
  t.false(v.trusted);
  t.true(v.identity.ok);
  t.false(v.canExternal);
  unpinned.destroy();
});

test('generated certificates are stored and reused by a new CertStore on the same dir', (t) => {
  const dir = tmp(t);
  const m1 = new Metrics();
  const first = new CertStore({ dir, metrics: m1 }).pairForDomain('b.example');
  t.is(readFileSync(join(dir, 'b.example.pem'), 'utf8'), first.certPem);
  t.is(statSync(join(dir, 'b.example.key')).mode & 0o777, 0o600);
  const m2 = new Metrics();
  const second = new CertStore({ dir, metrics: m2 }).pairForDomain('B.Example.');
  t.is(second.certPem, first.certPem);
  t.is(second.keyPem, first.keyPem);
  t.is(m1.get('tls_certs_generated_total'), 1);
  t.is(m2.get('tls_certs_generated_total'), 0);
});

test('an expired stored certificate is regenerated; a cached one is renewed when the clock passes its end', (t) => {
  const dir = tmp(t);
  const old = generateSelfSigned('b.example', { now: new Date(Date.now() - 400 * 86400_000), days: 30 });
  writeFileSync(join(dir, 'b.example.pem'), old.certPem);
  writeFileSync(join(dir, 'b.example.key'), old.keyPem);
  const fresh = new CertStore({ dir }).pairForDomain('b.example');
  t.not(fresh.certPem, old.certPem);
  t.true(Date.parse(new X509Certificate(fresh.certPem).validTo) > Date.now());
  t.is(readFileSync(join(dir, 'b.example.pem'), 'utf8'), fresh.certPem);

  let now = Date.now();
  const store = new CertStore({ dir: join(dir, 'clock'), days: 2, now: () => now });
  const c1 = store.pairForDomain('c.example');
  now += 12 * 3600_000;
  t.is(store.pairForDomain('c.example'), c1, 'still valid: cached');
  now += 36 * 3600_000; // within renewBefore (1 day) of the end
  const c2 = store.pairForDomain('c.example');
  t.not(c2.certPem, c1.certPem);
});

test('a corrupt or foreign stored certificate is replaced and counted', (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'b.example.pem'), 'garbage');
  writeFileSync(join(dir, 'b.example.key'), 'garbage');
  const other = generateSelfSigned('other.example');
  writeFileSync(join(dir, 'c.example.pem'), other.certPem);
  writeFileSync(join(dir, 'c.example.key'), other.keyPem);
  const metrics = new Metrics();
  const store = new CertStore({ dir, metrics });
  t.true(verifyPeerIdentity('b.example', store.pairForDomain('b.example').certPem).ok);
  t.true(verifyPeerIdentity('c.example', store.pairForDomain('c.example').certPem).ok);
  t.is(metrics.get('tls_cert_errors_total', { code: 'CERT_PARSE' }), 2);
  t.is(metrics.get('tls_certs_generated_total'), 2);
});

test('a configured certificate is used for the domains it covers (wildcard one level), generated ones otherwise', (t) => {
  const dir = tmp(t);
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certPem = derToPem(
    buildSelfSignedDer({
      domain: 'b.example', publicKey, privateKey, serial: randomBytes(8).fill(1, 0, 1),
      notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 86400_000 * 30),
      names: { cn: 'b.example', dnsNames: ['b.example', '*.b.example'] },
    }),
  );
  writeFileSync(join(dir, 'remote.pem'), certPem);
  writeFileSync(join(dir, 'remote.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const store = new CertStore({ dir: join(dir, 'gen'), configured: { cert: join(dir, 'remote.pem'), key: join(dir, 'remote.key') } });
  t.is(store.pairForDomain('b.example').certPem, certPem);
  t.is(store.pairForDomain('muc.b.example').certPem, certPem);
  t.not(store.pairForDomain('x.muc.b.example').certPem, certPem);
  t.not(store.pairForDomain('c.example').certPem, certPem);
  t.true(existsSync(join(dir, 'gen', 'c.example.pem')));
  t.false(existsSync(join(dir, 'gen', 'b.example.pem')));

  const err = t.throws(() => new CertStore({ dir, configured: { cert: join(dir, 'remote.pem'), key: join(dir, 'gen', 'c.example.key') } }), { instanceOf: CertError });
  t.is(err?.code, 'CERT_CONFIG');
  const missing = t.throws(() => new CertStore({ dir, configured: { cert: join(dir, 'nope.pem'), key: join(dir, 'remote.key') } }), { instanceOf: CertError });
  t.is(missing?.code, 'CERT_CONFIG');
});

test('an unusable directory gives a typed error, also through the SNI callback', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'file'), 'x');
  const metrics = new Metrics();
  const store = new CertStore({ dir: join(dir, 'file', 'sub'), metrics });
  const err = t.throws(() => store.forDomain('b.example'), { instanceOf: CertError });
  t.is(err?.code, 'CERT_IO');
  const viaSni = await new Promise<Error | null>((r) => store.sniCallback()('b.example', (e) => r(e)));
  t.is((viaSni as CertError | null)?.code, 'CERT_IO');
  t.is(metrics.get('tls_cert_errors_total', { code: 'CERT_IO' }), 2);
  t.is(metrics.get('tls_sni_errors_total'), 1);
});

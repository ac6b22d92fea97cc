import test from 'ava';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certIdentities, verifyPeerIdentity, CertError, matchDnsName } from '../../../src/s2s/tls/index.ts';
import { buildSelfSignedDer, derToPem } from '../../../src/s2s/tls/x509.ts';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

type Names = { cn?: string; dnsNames?: string[]; xmppAddrs?: string[]; srvNames?: string[] };
function certWith(names: Names): string {
  const serial = randomBytes(8);
  serial[0] = 0x11;
  return derToPem(
    buildSelfSignedDer({
      domain: 'unused.example', publicKey, privateKey, serial, names,
      notBefore: new Date(Date.now() - 1000), notAfter: new Date(Date.now() + 86400_000),
    }),
  );
}

// [certificate names, reference domain, expected verdict]
const matrix: Array<[Names, string, false | 'xmppAddr' | 'dnsName' | 'srvName' | 'cn']> = [
  // id-on-xmppAddr (RFC 6120 §13.7.1.4): exact, case-insensitive, never a wildcard
  [{ xmppAddrs: ['b.example'] }, 'b.example', 'xmppAddr'],
  [{ xmppAddrs: ['b.example'] }, 'B.EXAMPLE.', 'xmppAddr'],
  [{ xmppAddrs: ['b.example'] }, 'muc.b.example', false],
  [{ xmppAddrs: ['*.b.example'] }, 'muc.b.example', false],
  [{ xmppAddrs: ['bücher.example'] }, 'xn--bcher-kva.example', 'xmppAddr'],
  [{ xmppAddrs: ['user@b.example'] }, 'b.example', false],
  // DNS-ID
  [{ dnsNames: ['b.example'] }, 'b.example', 'dnsName'],
  [{ dnsNames: ['other.example', 'b.example'] }, 'b.example', 'dnsName'],
  [{ dnsNames: ['b.example'] }, 'c.example', false],
  // wildcard: whole left-most label, exactly one label
  [{ dnsNames: ['*.b.example'] }, 'muc.b.example', 'dnsName'],
  [{ dnsNames: ['*.b.example'] }, 'b.example', false],
  [{ dnsNames: ['*.b.example'] }, 'x.muc.b.example', false],
  [{ dnsNames: ['m*.b.example'] }, 'muc.b.example', false],
  [{ dnsNames: ['muc.*.example'] }, 'muc.b.example', false],
  [{ dnsNames: ['*.example'] }, 'b.example', false],
  // SRV-ID (RFC 4985, RFC 6120 §13.7.1.2.1)
  [{ srvNames: ['_xmpp-server.b.example'] }, 'b.example', 'srvName'],
  [{ srvNames: ['_xmpps-server.b.example'] }, 'b.example', 'srvName'],
  [{ srvNames: ['_xmpp-client.b.example'] }, 'b.example', false],
  [{ srvNames: ['_xmpp-server.b.example'] }, 'c.example', false],
  // CN only when no SAN identifier at all (RFC 6125 §6.4.4)
  [{ cn: 'b.example' }, 'b.example', 'cn'],
  [{ cn: '*.b.example' }, 'muc.b.example', 'cn'],
  [{ cn: 'b.example' }, 'c.example', false],
  [{ cn: 'b.example', dnsNames: ['other.example'] }, 'b.example', false],
  [{ cn: 'b.example', xmppAddrs: ['other.example'] }, 'b.example', false],
  [{ cn: 'b.example', srvNames: ['_xmpp-server.other.example'] }, 'b.example', false],
  [{}, 'b.example', false],
];

for (const [names, domain, want] of matrix) {
  test(`identity ${JSON.stringify(names)} for ${domain} -> ${want || 'rejected'}`, (t) => {
    const got = verifyPeerIdentity(domain, certWith(names));
    if (want) t.deepEqual(got, { ok: true, via: want });
    else {
      t.false(got.ok);
      if (!got.ok) t.true(got.reason.length > 0);
    }
  });
}

test('certIdentities reads every identity type, from PEM, DER and X509Certificate alike', (t) => {
  const names = { cn: 'b.example', dnsNames: ['b.example', '*.b.example'], xmppAddrs: ['b.example', 'bücher.example'], srvNames: ['_xmpp-server.b.example'] };
  const pem = certWith(names);
  const x = new X509Certificate(pem);
  for (const input of [pem, x, x.raw]) t.deepEqual(certIdentities(input), names);
});

test('xmppAddr is preferred over dnsName when both match', (t) => {
  t.deepEqual(verifyPeerIdentity('b.example', certWith({ dnsNames: ['b.example'], xmppAddrs: ['b.example'] })), { ok: true, via: 'xmppAddr' });
});

test('bad input gives a typed parse error or a rejected verdict, never a crash', (t) => {
  for (const bad of ['not a cert', Buffer.from([0x30, 0x03, 0x02, 0x01]), Buffer.alloc(0)]) {
    const err = t.throws(() => certIdentities(bad), { instanceOf: CertError });
    t.is(err?.code, 'CERT_PARSE');
    t.false(verifyPeerIdentity('b.example', bad).ok);
  }
  // an empty PeerCertificate (peer sent none)
  t.false(verifyPeerIdentity('b.example', {} as never).ok);
  t.false(verifyPeerIdentity('', certWith({ xmppAddrs: ['b.example'] })).ok);
  t.false(verifyPeerIdentity('b.example/x', certWith({ xmppAddrs: ['b.example'] })).ok);
});

test('matchDnsName is case-insensitive and ignores a trailing dot', (t) => {
  t.true(matchDnsName('B.Example.', 'b.example'));
  t.true(matchDnsName('*.B.example', 'muc.b.example'));
  t.false(matchDnsName('*', 'b.example'));
});

// An independent encoder: certificates made by the openssl command line.
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
(hasOpenssl ? test : test.skip)('identities of an openssl-made certificate (otherName xmppAddr, SRVName, wildcard)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-ossl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=ignored.example', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'),
    '-addext', 'subjectAltName=DNS:*.b.example,otherName:1.3.6.1.5.5.7.8.5;UTF8:b.example,otherName:1.3.6.1.5.5.7.8.7;IA5:_xmpp-server.c.example',
  ]);
  t.is(r.status, 0, r.stderr.toString());
  const pem = readFileSync(join(dir, 'c.pem'), 'utf8');
  t.deepEqual(certIdentities(pem), { cn: 'ignored.example', dnsNames: ['*.b.example'], xmppAddrs: ['b.example'], srvNames: ['_xmpp-server.c.example'] });
  t.deepEqual(verifyPeerIdentity('b.example', pem), { ok: true, via: 'xmppAddr' });
  t.deepEqual(verifyPeerIdentity('muc.b.example', pem), { ok: true, via: 'dnsName' });
  t.deepEqual(verifyPeerIdentity('c.example', pem), { ok: true, via: 'srvName' });
  t.false(verifyPeerIdentity('ignored.example', pem).ok, 'CN ignored when SANs exist');
});

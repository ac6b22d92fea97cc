/** DANE checks (RFC 7671) of certificate chains against TLSA records, and the trust rule lookup. */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daneVerify, usableRecords, TrustPolicy, defaultRule, type TrustRule } from '../../../src/s2s/trust/index.ts';
import { parseTlsaText } from '../../../src/s2s/dns/wire.ts';
import { issue, tlsaFor, type Issued } from './certs.ts';

let A: Issued;
let B: Issued;
test.before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-dane-'));
  A = issue(dir, 'a.example', 'A');
  B = issue(dir, 'a.example', 'B'); // same name, another CA and key
  rmSync(dir, { recursive: true, force: true });
});

const recs = (...texts: string[]) => texts.map(parseTlsaText);
const names = { domain: 'a.example' };

test('DANE-EE: the leaf or its key by SHA-256, SHA-512 or in full matches; another key does not', (t) => {
  for (const [sel, mt] of [[1, 1], [0, 1], [1, 2], [0, 2], [0, 0], [1, 0]]) {
    const r = daneVerify([A.leaf, A.ca], recs(tlsaFor(A.leaf, 3, sel, mt)), names);
    t.like(r, { ok: true, usage: 'DANE-EE' }, `3 ${sel} ${mt}`);
  }
  const bad = daneVerify([A.leaf, A.ca], recs(tlsaFor(B.leaf, 3, 1, 1)), names);
  t.false(bad.ok);
  // DANE-EE ignores names: a leaf for another domain still matches its own record
  t.true(daneVerify([A.leaf], recs(tlsaFor(A.leaf, 3, 1, 1)), { domain: 'other.example' }).ok);
});

test('DANE-TA: the CA in the chain matches, the chain verifies and the leaf names the domain', (t) => {
  t.like(daneVerify([A.leaf, A.ca], recs(tlsaFor(A.ca, 2, 0, 1)), names), { ok: true, usage: 'DANE-TA' });
  t.like(daneVerify([A.leaf, A.ca], recs(tlsaFor(A.ca, 2, 1, 2)), names), { ok: true, usage: 'DANE-TA' });
  const wrongName = daneVerify([A.leaf, A.ca], recs(tlsaFor(A.ca, 2, 0, 1)), { domain: 'c.example' });
  t.false(wrongName.ok);
  t.regex(!wrongName.ok ? wrongName.reason : '', /does not name c\.example/);
  // B's CA presented above A's leaf: it matches the record, but it did not sign the leaf
  const forged = daneVerify([A.leaf, B.ca], recs(tlsaFor(B.ca, 2, 0, 1)), names);
  t.false(forged.ok);
  t.regex(!forged.ok ? forged.reason : '', /not signed by/);
  // the SRV target name is a reference identity too (RFC 7673 §4)
  t.true(daneVerify([A.leaf, A.ca], recs(tlsaFor(A.ca, 2, 0, 1)), { domain: 'x.example', targetName: 'a.example' }).ok);
  // a TA record never matches the leaf itself
  t.false(daneVerify([A.leaf, A.ca], recs(tlsaFor(A.leaf, 2, 0, 1)), names).ok);
});

test('usable records: PKIX usages are ignored; per usage and selector only the strongest digest counts (RFC 7671 §9)', (t) => {
  const pkixOnly = daneVerify([A.leaf, A.ca], recs(tlsaFor(A.leaf, 1, 1, 1), tlsaFor(A.ca, 0, 0, 1)), names);
  t.like(pkixOnly, { ok: false, usable: 0 });
  const wrong256 = tlsaFor(B.leaf, 3, 1, 1);
  const right512 = tlsaFor(A.leaf, 3, 1, 2);
  t.true(daneVerify([A.leaf], recs(wrong256, right512), names).ok, 'a wrong SHA-256 beside a right SHA-512: the SHA-512 decides');
  t.false(daneVerify([A.leaf], recs(tlsaFor(A.leaf, 3, 1, 1), tlsaFor(B.leaf, 3, 1, 2)), names).ok, 'a right SHA-256 beside a wrong SHA-512 does not pass');
  t.is(usableRecords(recs(tlsaFor(A.leaf, 3, 1, 1), tlsaFor(A.leaf, 3, 1, 2), tlsaFor(A.leaf, 3, 0, 1))).length, 2);
  t.like(daneVerify([], recs(tlsaFor(A.leaf, 3, 1, 1)), names), { ok: false });
});

test('trust rules: the most specific pattern wins; the AD bit is believed on loopback or when configured', (t) => {
  const rule = (domains: string[], o: Partial<TrustRule> = {}): TrustRule => ({ ...defaultRule(false), domains, ...o });
  const p = new TrustPolicy({ rules: [rule(['*']), rule(['*.a.example'], { tls: 'required' }), rule(['a.example'], { dane: 'required' })], dnssec: { servers: ['127.0.0.1:53'], trusted: false } });
  t.is(p.ruleFor('a.example').dane, 'required');
  t.is(p.ruleFor('muc.a.example').tls, 'required');
  t.is(p.ruleFor('c.example').tls, 'optional');
  t.true(p.adTrusted);
  t.true(p.tlsRequired('a.example'), 'DANE required implies TLS');
  t.false(new TrustPolicy({ rules: [], dnssec: { servers: ['10.0.0.53'], trusted: false } }).adTrusted, 'a resolver across the network: AD not believed');
  t.true(new TrustPolicy({ rules: [], dnssec: { servers: ['10.0.0.53'], trusted: true } }).adTrusted, 'unless the operator says so');
  t.true(new TrustPolicy({ rules: [], dnssec: { servers: ['[::1]:5353'], trusted: false } }).adTrusted);
});

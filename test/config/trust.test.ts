/** Site-file key trust: per-domain S2S trust rules, DNSSEC resolver, anchors; check prints the effective rules. */
import test from 'ava';
import { join } from 'node:path';
import { loadSiteConfig, parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { relaySettings } from '../../src/relay/from-config.ts';
import { MINIMAL, issueAt, issuesOf, newKey, posOf, tempDir, writeFiles } from './helpers.ts';
import { issue } from '../s2s/trust/certs.ts';

const PIN = `3 1 1 ${'AB'.repeat(32)}`;

test('trust rules: defaults filled, a "*" rule added from local.tls.require, pins canonical; check prints and re-reads them', (t) => {
  const dir = tempDir(t);
  const text = `${MINIMAL.replace('  domains: [a.example]', '  domains: [a.example]\n  tls: { require: true }')}trust:
  anchors: [ca.pem]
  dnssec: { servers: ["127.0.0.1"] }
  rules:
    - domains: [a.example]
      min_tls_version: TLSv1.3
      tlsa: ["${PIN}"]
      srv: [{ target: xmpp.a.example, port: 5270 }]
      a: { xmpp.a.example: ["10.1.0.5"] }
`;
  const ca = issue(dir, 'ca.example', 'T');
  writeFiles(dir, { 'site.yaml': text, 'keys/shore.key': newKey(), 'ca.pem': ca.caPem });
  const cfg = loadSiteConfig(join(dir, 'site.yaml'));
  t.deepEqual(cfg.trust.anchors, [join(dir, 'ca.pem')]);
  t.deepEqual(cfg.trust.dnssec, { servers: ['127.0.0.1:53'], trusted: false });
  t.deepEqual(cfg.trust.rules, [
    { domains: ['a.example'], tls: 'required', min_tls_version: 'TLSv1.3', require_trusted_cert: false, dialback_without_trusted_cert: true, dane: 'required',
      srv: [{ target: 'xmpp.a.example', port: 5270, priority: 0, weight: 0, direct_tls: false }], a: { 'xmpp.a.example': ['10.1.0.5'] }, tlsa: [PIN.toLowerCase()] },
    { domains: ['*'], tls: 'required', min_tls_version: 'TLSv1.2', require_trusted_cert: false, dialback_without_trusted_cert: true, dane: 'off', srv: [], a: {}, tlsa: [] },
  ]);
  const out = renderEffectiveConfig(cfg);
  t.regex(out, /- domains: \["a\.example"\]\s+# S2S peer domains this rule covers/);
  t.regex(out, /dane: "required"\s+# off \| on/);
  writeFiles(dir, { 'effective.yaml': out });
  t.deepEqual({ ...loadSiteConfig(join(dir, 'effective.yaml')), sourceFile: cfg.sourceFile }, cfg);
  // what check accepts, run uses: the relay gets the rules and the anchors' PEM
  const s = relaySettings({ ...cfg, data_dir: join(dir, 'data') });
  t.is(s.trust, cfg.trust);
  t.deepEqual(s.tls.ca, [ca.caPem]);
  // an anchors file that holds no certificate is refused at check, not at run
  writeFiles(dir, { 'ca.pem': 'not a certificate\n' });
  t.regex(issueAt(t, issuesOf(t, () => loadSiteConfig(join(dir, 'site.yaml'))), 'trust.anchors[0]').message, /expected PEM certificates/);
});

test('trust mistakes name file:line, the key and what was expected', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'site.yaml');
  const text = `${MINIMAL}trust:
  anchors: [missing.pem]
  dnssec: { servers: ["127.0.0.1:99999"] }
  rules:
    - domains: [a.example]
      min_tls_version: TLSv1.1
      dane: off
      tlsa: ["1 1 1 ab"]
    - domains: ["a.example", "*.x"]
      a: { h.example: ["not-an-ip"] }
      tls: maybe
`;
  const issues = issuesOf(t, () => parseSiteConfig(text, file, { checkKeyFiles: false }));
  t.like(issueAt(t, issues, 'trust.anchors[0]'), { ...posOf(text, 'missing.pem'), message: `file not found: ${join(dir, 'missing.pem')}` });
  t.regex(issueAt(t, issues, 'trust.dnssec.servers[0]').message, /port/);
  t.regex(issueAt(t, issues, 'trust.rules[0].min_tls_version').message, /expected one of TLSv1\.2, TLSv1\.3, got "TLSv1\.1"/);
  t.regex(issueAt(t, issues, 'trust.rules[0].tlsa[0]').message, /expected usage 2 \(DANE-TA\) or 3 \(DANE-EE\)/);
  t.regex(issueAt(t, issues, 'trust.rules[1].domains[0]').message, /already has a rule \(rules\[0\]\)/);
  t.regex(issueAt(t, issues, 'trust.rules[1].a["h.example"][0]').message, /expected an IPv4 or IPv6 address/);
  t.regex(issueAt(t, issues, 'trust.rules[1].tls').message, /expected one of required, optional/);
  const pinOff = `${MINIMAL}trust:\n  rules:\n    - domains: [a.example]\n      dane: off\n      tlsa: ["${PIN}"]\n`;
  t.regex(issueAt(t, issuesOf(t, () => parseSiteConfig(pinOff, file, { checkKeyFiles: false })), 'trust.rules[0].tlsa').message, /no tlsa records with dane: off/);
  const shortHash = `${MINIMAL}trust:\n  rules:\n    - domains: [a.example]\n      tlsa: ["3 1 1 abcd"]\n`;
  t.regex(issueAt(t, issuesOf(t, () => parseSiteConfig(shortHash, file, { checkKeyFiles: false })), 'trust.rules[0].tlsa[0]').message, /expected 32 bytes of SHA-256/);
});

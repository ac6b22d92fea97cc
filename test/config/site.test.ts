import test from 'ava';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ConfigError,
  formatIssue,
  listProfiles,
  loadProfile,
  loadSiteConfig,
  parseSiteConfig,
  renderEffectiveConfig,
  PROFILES_DIR,
} from '../../src/config/index.ts';
import { MINIMAL, issueAt, issuesOf, newKey, posOf, tempDir, writeFiles } from './helpers.ts';

/** A temp site dir holding keys/shore.key and site.yaml = text; returns the site file path. */
function site(t: Parameters<typeof tempDir>[0], text: string, extra: Record<string, string> = {}): string {
  const dir = tempDir(t);
  writeFiles(dir, { 'keys/shore.key': newKey(), 'site.yaml': text, ...extra });
  return join(dir, 'site.yaml');
}

test('minimal site file: every default filled, paths absolute, profile loaded', (t) => {
  const file = site(t, MINIMAL);
  const dir = resolve(file, '..');
  const cfg = loadSiteConfig(file);
  t.is(cfg.site, 'ship-1');
  t.is(cfg.data_dir, join(dir, 'data'));
  t.deepEqual(cfg.local, {
    domains: ['a.example'],
    listen: ['0.0.0.0:5269'],
    direct_tls_listen: [],
    routes: {},
    tls: { cert: null, key: null, require: false },
    clearance: null,
    delivery_window: 128,
  });
  t.deepEqual(cfg.optimize, { presence: 'coalesce', disco_cache: true, fanout: true, drop: [] });
  t.deepEqual(cfg.policy, { allow: ['*'], block: [], block_namespaces: [], urgent: { from: [], message_types: [], shim_urgency: [] } });
  t.deepEqual(cfg.metrics, { listen: '127.0.0.1:9105', max_connections: 32, max_connections_per_address: 8, idle_timeout_s: 10, request_timeout_s: 10 });
  t.deepEqual(cfg.log, { level: 'info' });
  t.deepEqual(cfg.limits, { max_stanza_bytes: 262144, held_stanza_timeout_s: 600, spool_max_bytes: 256 * 1024 * 1024, spool_max_stanzas: 100000 });
  t.deepEqual(cfg.s2s, {
    connect_timeout_s: 30,
    auth_timeout_s: 30,
    idle_timeout_s: 600,
    dialback: true,
    sasl_external: true,
    dns_servers: [],
    max_pending: 128,
    max_pending_per_address: 16,
  });
  const [l] = cfg.links;
  t.is(l.name, 'shore');
  t.is(l.transport, 'udp');
  t.is(l.bind, '0.0.0.0:5298');
  t.is(l.peer, '127.0.0.1:5299');
  t.is(l.device, null);
  t.is(l.baud, null);
  t.is(l.key_file, join(dir, 'keys/shore.key'));
  t.regex(l.keyId ?? '', /^[0-9a-f]{16}$/);
  t.deepEqual(l.reconnect, { min_s: 1, max_s: 60 });
  t.is(l.profile, 'bgan-64k');
  t.is(l.profileConfig.bearer.rate_bps, 64000);
  // no link overrides: the link's tuning is the profile's
  t.deepEqual(l.tuning, loadProfile('bgan-64k').tuning);
  t.is(cfg.sourceFile, file);
});

test('given values override defaults; relative paths resolve against the site file directory', (t) => {
  const text = `site: ship-1
data_dir: ../var
local:
  domains: [A.Example, muc.a.example]
  listen: ["[::1]:5269", "127.0.0.1:0"]
  routes: { a.example: "10.1.0.5", muc.a.example: "[fd00::5]:5270" }
  tls: { cert: certs/remote.pem, key: /dev/null, require: true }
links:
  - name: hf
    domains: ["*"]
    profile: ./my-profile.yaml
    transport: serial
    device: /dev/ttyUSB0
    key_file: keys/shore.key
    role: a
    reconnect: { min_s: 2 }
    tuning: { frame_bytes: 128, keepalive_s: 300 }
metrics: { listen: null }
s2s: { dns_servers: ["127.0.0.53"] }
`;
  const profile = `bearer: { rate_bps: 1200, delay_ms: 2000, mtu: 512 }\ntuning: { frame_bytes: 256, compression_level: 5 }\n`;
  const file = site(t, text, { 'my-profile.yaml': profile, 'certs/remote.pem': 'pem' });
  const dir = resolve(file, '..');
  const cfg = loadSiteConfig(file);
  t.is(cfg.data_dir, resolve(dir, '../var'));
  t.deepEqual(cfg.local.domains, ['a.example', 'muc.a.example']);
  t.deepEqual(cfg.local.listen, ['[::1]:5269', '127.0.0.1:0']);
  t.deepEqual(cfg.local.routes, { 'a.example': '10.1.0.5:5269', 'muc.a.example': '[fd00::5]:5270' });
  t.deepEqual(cfg.local.tls, { cert: join(dir, 'certs/remote.pem'), key: '/dev/null', require: true });
  t.is(cfg.metrics.listen, null);
  t.deepEqual(cfg.s2s.dns_servers, ['127.0.0.53:53']);
  const [l] = cfg.links;
  t.is(l.baud, 9600);
  t.is(l.device, '/dev/ttyUSB0');
  t.is(l.profile, join(dir, 'my-profile.yaml'));
  t.deepEqual(l.reconnect, { min_s: 2, max_s: 60 });
  // cascade: link override > profile file > computed
  t.is(l.tuning.frame_bytes, 128);
  t.is(l.tuning.keepalive_s, 300);
  t.is(l.tuning.compression_level, 5);
  t.is(l.profileConfig.tuning.frame_bytes, 256);
  // window is computed from the link's own frame size: 2 x BDP (150 B/s x 4 s) / 128 B
  t.is(l.tuning.window_frames, Math.ceil((2 * 150 * 4) / 128));
  t.is(l.profileConfig.tuning.window_frames, Math.max(4, Math.ceil((2 * 150 * 4) / 256)));
});

test('the example pair loads, and the two ends mirror each other', (t) => {
  const ship = loadSiteConfig(resolve('examples/ship.yaml'));
  const shore = loadSiteConfig(resolve('examples/shore.yaml'));
  t.is(ship.links[0].bind, shore.links[0].peer);
  t.is(ship.links[0].peer, shore.links[0].bind);
  t.is(ship.links[0].keyId, shore.links[0].keyId);
  t.deepEqual(ship.links[0].domains.filter((d) => !d.startsWith('*')), shore.local.domains);
  t.deepEqual(shore.links[0].domains, ship.local.domains);
});

test('effective config round-trips: render then parse gives the same config', (t) => {
  for (const f of ['examples/ship.yaml', 'examples/shore.yaml']) {
    const cfg = loadSiteConfig(resolve(f));
    const text = renderEffectiveConfig(cfg);
    // written elsewhere (data_dir): all paths are absolute, so the location does not matter
    const dir = tempDir(t);
    writeFiles(dir, { 'effective.yaml': text });
    const again = loadSiteConfig(join(dir, 'effective.yaml'));
    t.deepEqual({ ...again, sourceFile: cfg.sourceFile }, cfg, f);
  }
});

test('rendered effective config has a comment on every key line', (t) => {
  const text = renderEffectiveConfig(loadSiteConfig(resolve('examples/ship.yaml')));
  const keyLines = text.split('\n').filter((l) => /^\s*(- )?[a-z_]+:/.test(l));
  t.true(keyLines.length > 40);
  for (const l of keyLines) t.regex(l, /# \S/, l);
});

test('an unknown key is reported at the key, with "did you mean"', (t) => {
  const text = MINIMAL.replace('    transport: udp', '    transprot: udp');
  const issues = issuesOf(t, () => parseSiteConfig(text, 'ship.yaml', { checkKeyFiles: false }));
  const i = issueAt(t, issues, 'links[0].transprot');
  t.is(i.file, 'ship.yaml');
  t.like(i, posOf(text, 'transprot'));
  t.regex(i.message, /did you mean "transport"/);
  // the missing transport is reported too
  t.regex(issueAt(t, issues, 'links[0].transport').message, /^missing/);
});

test('an unknown key far from any known key lists the allowed keys', (t) => {
  const text = `${MINIMAL}frobnicate: 3\n`;
  const i = issueAt(t, issuesOf(t, () => parseSiteConfig(text, 'ship.yaml', { checkKeyFiles: false })), 'frobnicate');
  t.like(i, posOf(text, 'frobnicate'));
  t.regex(i.message, /expected one of site, data_dir, local, links/);
});

test('a bad enum value names the allowed values and the value given, at its position', (t) => {
  const text = MINIMAL.replace('transport: udp', 'transport: udpp');
  const issues = issuesOf(t, () => parseSiteConfig(text, 'site.yaml', { checkKeyFiles: false }));
  const i = issueAt(t, issues, 'links[0].transport');
  t.like(i, { file: 'site.yaml', ...posOf(text, 'udpp') });
  t.is(i.message, 'expected one of udp, serial, tcp, xep0361, got "udpp"');
  t.is(formatIssue(i), `site.yaml:${i.line}:${i.col}: links[0].transport: expected one of udp, serial, tcp, xep0361, got "udpp"`);
});

test('every problem is reported at once, in file order, one per line in the message', (t) => {
  const text = `site: ship-1
local:
  domains: [a.example]
  listen: ["0.0.0.0:99999"]
links:
  - name: shore
    domains: [b.example]
    profile: bgan-64k
    transport: udp
    bind: "0.0.0.0:5298"
    peer: "127.0.0.1:5299"
    key_file: keys/shore.key
optimize: { presence: sometimes }
limits: { max_stanza_bytes: "big" }
log: { level: loud }
`;
  const err = t.throws(() => parseSiteConfig(text, 'x.yaml', { checkKeyFiles: false }), { instanceOf: ConfigError });
  const paths = err!.issues.map((i) => i.path);
  t.deepEqual(paths, ['local.listen[0]', 'optimize.presence', 'limits.max_stanza_bytes', 'log.level']);
  t.is(err!.message.split('\n').length, 4);
  t.like(err!.issues[2], { ...posOf(text, '"big"'), message: 'expected a number, got "big"' });
  t.regex(err!.issues[0].message, /port number 0-65535, got 99999/);
});

test('wrong types and missing required keys', (t) => {
  const text = `site: ship-1
local:
  domains: a.example
links: []
metrics: { listen: 9105 }
`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml'));
  t.like(issueAt(t, issues, 'local.domains'), { ...posOf(text, 'a.example'), message: 'expected a list, got "a.example"' });
  t.like(issueAt(t, issues, 'links'), { ...posOf(text, '[]'), message: 'expected at least 1 item(s), got 0' });
  t.like(issueAt(t, issues, 'metrics.listen'), { ...posOf(text, '9105'), message: 'expected a string, got 9105' });

  const noSite = issuesOf(t, () => parseSiteConfig('local: { domains: [a.example] }\n', 's.yaml'));
  t.like(issueAt(t, noSite, 'site'), { line: 1, col: 1, message: 'missing (expected a string)' });
  t.truthy(noSite.find((i) => i.path === 'links' && i.message.startsWith('missing')));
});

test('YAML syntax errors carry line and column; a non-mapping document is refused', (t) => {
  const text = 'site: ship-1\nlocal:\n  domains: [a.example\nlinks: x\n';
  const issues = issuesOf(t, () => parseSiteConfig(text, 'broken.yaml'));
  t.true(issues.length >= 1);
  t.is(issues[0].file, 'broken.yaml');
  t.is(issues[0].path, '');
  t.true((issues[0].line ?? 0) >= 3);
  t.regex(issues[0].message, /^YAML syntax/);

  const dup = 'site: a\nsite: b\n';
  const d = issuesOf(t, () => parseSiteConfig(dup, 'dup.yaml'));
  t.like(d[0], { line: 2, col: 1 });
  t.regex(d[0].message, /unique/);

  const list = issuesOf(t, () => parseSiteConfig('- a\n- b\n', 'l.yaml'));
  t.like(list[0], { path: '', line: 1, col: 1 });
  t.regex(list[0].message, /expected a mapping/);
});

test('transport rules: bind/peer, device, key_file, keys of another transport', (t) => {
  const text = `site: s
local:
  domains: [a.example]
links:
  - name: l0
    domains: [b.example]
    profile: lan
    transport: udp
    device: /dev/ttyS0
    key_file: k0.key
  - name: l1
    domains: [c.example]
    profile: lan
    transport: serial
    bind: "0.0.0.0:1"
  - name: l2
    domains: [d.example]
    profile: lan
    transport: xep0361
    peer: "[::1]:5299"
`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false }));
  const l0 = issues.filter((i) => i.path.startsWith('links[0]'));
  t.deepEqual(l0.map((i) => i.path).sort(), ['links[0].device', 'links[0].transport']);
  t.regex(issueAt(t, l0, 'links[0].transport').message, /udp needs bind \(and peer on the end that can reach the other/);
  t.like(issueAt(t, l0, 'links[0].device'), { ...posOf(text, 'device: /dev/ttyS0'), message: 'not used by transport udp (serial only)' });
  const l1 = issues.filter((i) => i.path.startsWith('links[1]'));
  t.is(l1.filter((i) => /needs device/.test(i.message)).length, 1);
  t.is(l1.filter((i) => /needs key_file/.test(i.message)).length, 1);
  t.like(issueAt(t, l1, 'links[1].bind'), posOf(text, 'bind: "0.0.0.0:1"'));
  // xep0361 without key_file is fine
  t.is(issues.filter((i) => i.path.startsWith('links[2]')).length, 0);
});

test('domains: overlap with local domains, routed twice, bad names; link names unique', (t) => {
  const text = `site: s
local:
  domains: [a.example, muc.a.example]
links:
  - name: one
    domains: [b.example, "*.a.example"]
    profile: lan
    transport: xep0361
    peer: "127.0.0.1:5299"
  - name: one
    domains: [b.example, "-bad-.example", "*"]
    profile: lan
    transport: xep0361
    bind: "127.0.0.1:5299"
`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml'));
  t.like(issueAt(t, issues, 'links[0].domains[1]'), posOf(text, '"*.a.example"'));
  t.regex(issueAt(t, issues, 'links[0].domains[1]').message, /overlaps local\.domains\[1\] "muc\.a\.example"/);
  t.regex(issueAt(t, issues, 'links[1].name').message, /duplicate link name "one" \(also links\[0\]\)/);
  t.regex(issueAt(t, issues, 'links[1].domains[0]').message, /already routed by links\[0\]/);
  t.regex(issueAt(t, issues, 'links[1].domains[1]').message, /expected a domain/);
  // "*" means "all others": it never overlaps local domains
  t.is(issues.filter((i) => i.path === 'links[1].domains[2]').length, 0);
});

test('host:port values: IPv6 needs brackets, port ranges, peer port 0', (t) => {
  const text = MINIMAL.replace('peer: "127.0.0.1:5299"', 'peer: "::1:5299"').replace('bind: "0.0.0.0:5298"', 'bind: "1.2.3.4:70000"');
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false }));
  t.regex(issueAt(t, issues, 'links[0].peer').message, /IPv6 address in brackets/);
  t.like(issueAt(t, issues, 'links[0].bind'), posOf(text, '"1.2.3.4:70000"'));
  const zero = MINIMAL.replace('"127.0.0.1:5299"', '"127.0.0.1:0"');
  t.is(issueAt(t, issuesOf(t, () => parseSiteConfig(zero, 's.yaml', { checkKeyFiles: false })), 'links[0].peer').message, 'expected a port 1-65535, got 0');
});

test('profile references: unknown name with suggestion, missing file, invalid profile file', (t) => {
  const text = MINIMAL.replace('profile: bgan-64k', 'profile: bgan64k');
  const i = issueAt(t, issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false })), 'links[0].profile');
  t.like(i, posOf(text, 'bgan64k'));
  t.regex(i.message, /unknown profile "bgan64k"; did you mean "bgan-64k"\?/);

  const missing = MINIMAL.replace('profile: bgan-64k', 'profile: profiles/none.yaml');
  t.regex(issueAt(t, issuesOf(t, () => parseSiteConfig(missing, '/tmp/s.yaml', { checkKeyFiles: false })), 'links[0].profile').message, /profile file not found: \/tmp\/profiles\/none\.yaml/);

  const badProfile = 'bearer:\n  rate_bps: 9600\n  delay_ms: 300\n  los: { model: bernoulli, p: 0.1 }\n';
  const file = site(t, MINIMAL.replace('profile: bgan-64k', 'profile: p.yaml'), { 'p.yaml': badProfile });
  const issues = issuesOf(t, () => loadSiteConfig(file));
  t.regex(issueAt(t, issues, 'links[0].profile').message, /is invalid/);
  const inProfile = issueAt(t, issues, 'bearer.los');
  t.true(inProfile.file.endsWith('p.yaml'));
  t.like(inProfile, posOf(badProfile, 'los'));
  t.regex(inProfile.message, /did you mean "loss"/);
});

test('link tuning overrides are validated against the profile bearer', (t) => {
  const text = MINIMAL.replace('    key_file:', '    tuning: { frame_bytes: 9000, rto_min_ms: 5000, rto_max_ms: 1000, windw_frames: 3 }\n    key_file:');
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false }));
  t.regex(issueAt(t, issues, 'links[0].tuning.windw_frames').message, /did you mean "window_frames"/);
  const fixed = text.replace(', windw_frames: 3', '');
  const issues2 = issuesOf(t, () => parseSiteConfig(fixed, 's.yaml', { checkKeyFiles: false }));
  t.like(issueAt(t, issues2, 'links[0].tuning.frame_bytes'), { ...posOf(fixed, '9000'), message: 'expected at most the bearer mtu (1500), got 9000' });
  t.regex(issueAt(t, issues2, 'links[0].tuning.rto_min_ms').message, /at most rto_max_ms \(1000\)/);
});

test('key files are read and checked: missing and malformed keys are config issues', (t) => {
  const file = site(t, MINIMAL, { 'keys/shore.key': 'satrelay-psk-v1:AAAA\n' });
  const i = issueAt(t, issuesOf(t, () => loadSiteConfig(file)), 'links[0].key_file');
  t.like(i, posOf(MINIMAL, 'keys/shore.key'));
  t.regex(i.message, /32-byte key, got 3 bytes/);

  const gone = site(t, MINIMAL.replace('keys/shore.key', 'keys/other.key'));
  t.regex(issueAt(t, issuesOf(t, () => loadSiteConfig(gone)), 'links[0].key_file').message, /not found/);
});

test('loadSiteConfig: a missing file is a ConfigError naming it', (t) => {
  const issues = issuesOf(t, () => loadSiteConfig('/nonexistent/site.yaml'));
  t.deepEqual(issues, [{ file: '/nonexistent/site.yaml', path: '', message: 'site file not found' }]);
});

test('profiles dir is the shipped one and examples reference shipped profiles', (t) => {
  t.true(listProfiles().includes('bgan-64k'));
  const ship = readFileSync('examples/ship.yaml', 'utf8');
  const name = /profile: (\S+)/.exec(ship)?.[1] ?? '';
  t.true(listProfiles().includes(name));
  t.true(loadProfile(name).file.startsWith(PROFILES_DIR));
});

test('round trip also holds for serial links, path profiles, IPv6 and disabled metrics', (t) => {
  const text = `site: s
local:
  domains: [a.example]
  routes: { a.example: "[fd00::1]" }
  tls: { cert: c.pem, key: c.key }
links:
  - name: hf
    domains: ["*"]
    profile: ./p.yaml
    transport: serial
    device: /dev/ttyS1
    baud: 2400
    key_file: keys/shore.key
    role: b
    tuning: { frame_bytes: 200 }
metrics: { listen: null }
policy: { block: ["*.evil.example"], block_namespaces: [jingle, "urn:xmpp:jingle:1"] }
`;
  const file = site(t, text, { 'p.yaml': 'bearer: { rate_bps: 2400, delay_ms: 900 }\n', 'c.pem': 'pem', 'c.key': 'key' });
  const cfg = loadSiteConfig(file);
  const out = renderEffectiveConfig(cfg);
  t.deepEqual(parseSiteConfig(out, file), cfg);
  t.is(cfg.links[0].profile, join(resolve(file, '..'), 'p.yaml'));
  t.is(cfg.links[0].baud, 2400);
  t.is(cfg.local.routes['a.example'], '[fd00::1]:5269');
});

test('an empty file reports each required key as missing at 1:1', (t) => {
  const issues = issuesOf(t, () => parseSiteConfig('', 'empty.yaml'));
  t.deepEqual(issues.map((i) => [i.path, i.line, i.col]), [['site', 1, 1], ['local', 1, 1], ['links', 1, 1]]);
});

test('two listeners on one address are refused; port 0 and separate UDP space are fine', (t) => {
  const text = `site: s
local:
  domains: [a.example]
  listen: ["0.0.0.0:5269", "127.0.0.1:0", "127.0.0.1:0"]
  direct_tls_listen: ["127.0.0.1:5269"]
links:
  - name: l
    domains: [b.example]
    profile: lan
    transport: udp
    bind: "127.0.0.1:5269"
    peer: "198.18.0.2:5269"
    key_file: keys/shore.key
  - name: m
    domains: [c.example]
    profile: lan
    transport: xep0361
    bind: "127.0.0.1:9105"
`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false }));
  t.deepEqual(issues.map((i) => i.path), ['local.direct_tls_listen[0]', 'links[1].bind']);
  t.like(issues[0], { ...posOf(text, '"127.0.0.1:5269"]'), message: '127.0.0.1:5269 clashes with local.listen[0] (0.0.0.0:5269): both cannot listen' });
  t.regex(issues[1].message, /clashes with metrics\.listen/);
});

test('xep0361 link keys: acks and pinned TLS load, render and round-trip; other transports refuse them', (t) => {
  const fp = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0')).join(':');
  const text = `site: s
local:
  domains: [a.example]
links:
  - name: plain
    domains: [b.example]
    profile: lan
    transport: xep0361
    peer: "127.0.0.1:5299"
    acks: false
    tls: { cert: link.pem, key: link.key, peer_fingerprint: "${fp}" }
`;
  const file = site(t, text, { 'link.pem': 'pem', 'link.key': 'key' });
  const cfg = loadSiteConfig(file);
  t.false(cfg.links[0].acks);
  t.is(cfg.links[0].tls?.cert, join(resolve(file, '..'), 'link.pem'));
  t.is(cfg.links[0].tls?.peer_fingerprint, fp.toUpperCase());
  t.deepEqual(parseSiteConfig(renderEffectiveConfig(cfg), file), cfg);

  const bad = issuesOf(t, () =>
    parseSiteConfig(text.replace('transport: xep0361', 'transport: tcp\n    key_file: k.key').replace(fp, 'AB:CD'), join(resolve(file, '..'), 'bad.yaml'), { checkKeyFiles: false }),
  );
  t.true(bad.some((i) => i.path === 'links[0].acks' && /only used by transport xep0361/.test(i.message)));
  t.true(bad.some((i) => i.path === 'links[0].tls.peer_fingerprint' && /SHA-256/.test(i.message) && i.line === 12));
});

test('a certificate file that does not exist is reported at its key, not at the first connection', (t) => {
  const text = MINIMAL.replace('local:\n', 'local:\n  tls: { cert: certs/missing.pem }\n');
  const issues = issuesOf(t, () => loadSiteConfig(site(t, text)));
  const i = issues.find((x) => x.path === 'local.tls.cert');
  t.truthy(i, JSON.stringify(issues));
  t.regex(i!.message, /file not found: .*certs\/missing\.pem/);
  t.is(i!.line, text.split('\n').findIndex((l) => l.includes('missing.pem')) + 1);
});

test('local.delivery_window: default 128, a whole number up to 1024; anything else named at its line', (t) => {
  t.is(parseSiteConfig(MINIMAL, 'ship.yaml', { checkKeyFiles: false }).local.delivery_window, 128);
  const with16 = MINIMAL.replace('  domains: [a.example]\n', '  domains: [a.example]\n  delivery_window: 16\n');
  t.is(parseSiteConfig(with16, 'ship.yaml', { checkKeyFiles: false }).local.delivery_window, 16);
  for (const [bad, message] of [
    ['0', 'expected a number > 0, got 0'],
    ['2.5', 'expected an integer, got 2.5'],
    ['5000', 'expected a number <= 1024, got 5000'],
    ['many', 'expected a number, got "many"'],
  ]) {
    const text = MINIMAL.replace('  domains: [a.example]\n', `  domains: [a.example]\n  delivery_window: ${bad}\n`);
    const i = issueAt(t, issuesOf(t, () => parseSiteConfig(text, 'ship.yaml', { checkKeyFiles: false })), 'local.delivery_window');
    t.like(i, { file: 'ship.yaml', line: 4, message }, bad);
  }
});

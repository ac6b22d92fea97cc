/**
 * links[].bearers: what check accepts (the effective order printed, run
 * builds a driver per bearer) and what it refuses, each at file:line with
 * the key and what was expected.
 */
import test from 'ava';
import { parseSiteConfig, renderEffectiveConfig, linkBearers } from '../../src/config/index.ts';
import { issueAt, issuesOf, posOf } from './helpers.ts';

const TWO = `site: ship-1
local:
  domains: [a.example]
links:
  - name: shore
    domains: [b.example]
    key_file: keys/shore.key
    bearers:
      - profile: starlink-maritime
        transport: udp
        bind: "0.0.0.0:5298"
        peer: "198.18.0.2:5299"
      - profile: iridium-2400
        transport: serial
        device: /dev/ttyUSB0
        baud: 2400
`;
const load = (text: string) => parseSiteConfig(text, 'ship.yaml', { checkKeyFiles: false });

test('two bearers: loaded in order, the primary first; check prints the order, failover and probe cost', (t) => {
  const cfg = load(TWO);
  const l = cfg.links[0];
  const bs = linkBearers(l);
  t.deepEqual(bs.map((b) => [b.profile, b.transport]), [['starlink-maritime', 'udp'], ['iridium-2400', 'serial']]);
  t.is(bs[1].baud, 2400);
  t.is(bs[0].tuning.failover_after_s, 5);
  t.is(l.failback_hold_s, 20);
  const text = renderEffectiveConfig(cfg);
  t.regex(text, /# {5}1:starlink-maritime: udp on 0\.0\.0\.0:5298 to 198\.18\.0\.2:5299; declared down after 5 s silent; probed every 1\.7 s when idle/);
  t.regex(text, /# {5}2:iridium-2400: serial \/dev\/ttyUSB0 at 2400 baud; declared down after 183 s silent; probed every 60 s/);
  t.regex(text, /failback to a better bearer once it has been up 20 s \(failback_hold_s\)/);
  // the dump names each bearer's keys once, under bearers:, not at the link
  t.notRegex(text, /^ {4}transport:/m);
  // and loads again
  t.notThrows(() => load(text.replace(/^#.*$/gm, '')));
});

test('the single-bearer keys stay valid: a one-bearer list', (t) => {
  const cfg = load(TWO.replace(/ {4}bearers:[\s\S]*$/, '    profile: bgan-64k\n    transport: udp\n    bind: "0.0.0.0:5298"\n    peer: "127.0.0.1:5299"\n'));
  const bs = linkBearers(cfg.links[0]);
  t.is(bs.length, 1);
  t.is(bs[0].profile, 'bgan-64k');
  t.is(cfg.links[0].bearers, null);
});

test('bearer errors: file:line, key, what was expected', (t) => {
  const bad = TWO.replace('    key_file: keys/shore.key\n', '    key_file: keys/shore.key\n    transport: udp\n')
    .replace('        device: /dev/ttyUSB0\n', '')
    .replace('        peer: "198.18.0.2:5299"\n', '        peer: "198.18.0.2:5299"\n        baud: 9600\n')
    .replace('profile: iridium-2400', 'profile: iridium-240');
  const issues = issuesOf(t, () => load(bad));
  const tr = issues.find((i) => i.path === 'links[0].transport' && /not used with bearers: each bearer has its own transport/.test(i.message));
  t.like(tr, { file: 'ship.yaml', ...posOf(bad, 'shore.key\n    transport: udp', 14) });
  t.regex(issueAt(t, issues, 'links[0].bearers[0].baud').message, /not used by transport udp/);
  t.regex(issueAt(t, issues, 'links[0].bearers[1].transport').message, /transport serial needs device/);
  t.regex(issueAt(t, issues, 'links[0].bearers[1].profile').message, /unknown profile "iridium-240"; did you mean "iridium-2400"/);
});

test('bearer errors: xep0361 cannot be a bearer, a port used twice, failback_hold_s without bearers, neither form', (t) => {
  let issues = issuesOf(t, () => load(TWO.replace('transport: serial', 'transport: xep0361')));
  t.regex(issueAt(t, issues, 'links[0].bearers[1].transport').message, /expected one of udp, serial, tcp, got "xep0361"/);
  const twice = TWO.replace('        device: /dev/ttyUSB0\n        baud: 2400\n', '        bind: "0.0.0.0:5298"\n').replace('transport: serial', 'transport: udp');
  issues = issuesOf(t, () => load(twice));
  t.regex(issueAt(t, issues, 'links[0].bearers[1].bind').message, /clashes with links\[0\]\.bearers\[0\]\.bind|already used by bearers\[0\]/);
  const single = TWO.replace(/ {4}bearers:[\s\S]*$/, '    failback_hold_s: 10\n');
  issues = issuesOf(t, () => load(single));
  t.regex(issueAt(t, issues, 'links[0].failback_hold_s').message, /only used with bearers/);
  t.regex(issueAt(t, issues, 'links[0].profile').message, /^missing \(expected a profile name or file; or a bearers: list/);
});

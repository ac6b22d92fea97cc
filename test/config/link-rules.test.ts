/**
 * What check accepts, run runs: site files whose links would crash at start
 * or could never connect are refused with file, line, column and what to
 * write instead (src/config/link-rules.ts).
 */
import test from 'ava';
import { parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { issueAt, issuesOf, posOf } from './helpers.ts';

const site = (link: string, extra = '') => `site: ship
local:
  domains: [a.example]
links:
  - name: shore
    domains: [b.example]
    profile: lan
    key_file: k.key
${link}${extra}`;
const load = (text: string) => parseSiteConfig(text, 'ship.yaml', { checkKeyFiles: false });

test('udp with bind and no peer is the roaming end: accepted, and check says the partner must set peer', (t) => {
  const cfg = load(site('    transport: udp\n    bind: "0.0.0.0:5299"\n'));
  t.is(cfg.links[0].peer, null);
  const text = renderEffectiveConfig(cfg);
  t.regex(text, /#   roaming: no peer, so this end learns the partner's address from its first authentic frame and follows it when it moves; the partner must set peer to this end's public address \(bind 0\.0\.0\.0:5299\)/);
});

test('udp without peer on port 0 (the partner could never name it) is refused at bind, with what to write', (t) => {
  const text = site('    transport: udp\n    bind: "0.0.0.0:0"\n');
  const i = issueAt(t, issuesOf(t, () => load(text)), 'links[0].bind');
  t.like(i, { file: 'ship.yaml', ...posOf(text, '"0.0.0.0:0"') });
  t.is(
    i.message,
    'transport udp without peer listens for its partner, so it needs a fixed port: the partner\'s peer must name it; set bind: "0.0.0.0:5299" (or another free port), or add peer: "HOST:PORT", the partner relay\'s bind',
  );
});

test('udp with peer and no bind is refused at peer; with neither, bind is asked for and who sets peer explained', (t) => {
  const text = site('    transport: udp\n    peer: "198.18.0.2:5299"\n');
  const i = issueAt(t, issuesOf(t, () => load(text)), 'links[0].peer');
  t.like(i, posOf(text, 'peer:'));
  t.regex(i.message, /^transport udp needs bind too: .*add bind: "0\.0\.0\.0:5299"/);
  const none = site('    transport: udp\n');
  t.is(issueAt(t, issuesOf(t, () => load(none)), 'links[0].transport').message, 'transport udp needs bind (and peer on the end that can reach the other: the ship behind NAT; the end without peer learns it)');
  t.notThrows(() => load(site('    transport: udp\n    bind: "0.0.0.0:5299"\n    peer: "198.18.0.2:5299"\n')));
});

for (const transport of ['tcp', 'xep0361'] as const) {
  test(`${transport} with both bind and peer only dials, so it is refused at bind; one of the two is fine`, (t) => {
    const text = site(`    transport: ${transport}\n    bind: "0.0.0.0:5299"\n    peer: "198.18.0.2:5299"\n`);
    const i = issueAt(t, issuesOf(t, () => load(text)), 'links[0].bind');
    t.like(i, posOf(text, 'bind:'));
    t.true(
      i.message.startsWith(
        `expected exactly one end of a ${transport} link to set peer: with peer set this end only dials 198.18.0.2:5299 and never listens on 0.0.0.0:5299`,
      ),
      i.message,
    );
    t.regex(i.message, /Keep peer here and remove bind \(the partner keeps only bind and listens\), or keep bind here and remove peer \(the partner dials this address\)$/);
    t.notThrows(() => load(site(`    transport: ${transport}\n    peer: "198.18.0.2:5299"\n`)));
    t.notThrows(() => load(site(`    transport: ${transport}\n    bind: "0.0.0.0:5299"\n`)));
  });
}

test('tcp may give bind with port 0 and peer: bind then only picks the address to dial from', (t) => {
  const cfg = load(site('    transport: tcp\n    bind: "10.0.0.1:0"\n    peer: "198.18.0.2:5299"\n'));
  t.is(cfg.links[0].bind, '10.0.0.1:0');
  const x = site('    transport: xep0361\n    bind: "10.0.0.1:0"\n    peer: "198.18.0.2:5299"\n');
  t.regex(issueAt(t, issuesOf(t, () => load(x)), 'links[0].bind').message, /xep0361 link to set peer/);
});

test('a peer that is this relay\'s own listener is refused: the link would talk to itself', (t) => {
  const udp = site('    transport: udp\n    bind: "0.0.0.0:5299"\n    peer: "127.0.0.1:5299"\n');
  const i = issueAt(t, issuesOf(t, () => load(udp)), 'links[0].peer');
  t.like(i, posOf(udp, '"127.0.0.1:5299"'));
  t.is(i.message, '127.0.0.1:5299 is this relay\'s own links[0].bind; expected the partner relay\'s address');
  // local.listen defaults to 0.0.0.0:5269: dialling 127.0.0.1:5269 reaches this relay's S2S port.
  const s2s = site('    transport: xep0361\n    peer: "127.0.0.1:5269"\n');
  t.is(issueAt(t, issuesOf(t, () => load(s2s)), 'links[0].peer').message, '127.0.0.1:5269 is this relay\'s own local.listen[0]; expected the partner relay\'s address');
  // Another host on the same port number is the usual mirror-image pair.
  t.notThrows(() => load(site('    transport: udp\n    bind: "0.0.0.0:5299"\n    peer: "198.18.0.2:5299"\n')));
});

test('a spooled link whose role the domains cannot decide asks for role (run failed at start)', (t) => {
  const text = site('    transport: udp\n    bind: "0.0.0.0:5299"\n    peer: "198.18.0.2:5299"\n').replace('domains: [b.example]', 'domains: ["*.a.example"]');
  const i = issueAt(t, issuesOf(t, () => load(text)), 'links[0].domains');
  t.like(i, posOf(text, '["*.a.example"]'));
  t.is(
    i.message,
    'this end\'s role cannot be derived: the least local domain and the least of these domains are both "a.example"; expected role: a here and role: b at the partner (or the reverse)',
  );
  t.is(load(`${text}    role: a\n`).links[0].role, 'a');
});

/**
 * NAT keepalive (profile bearer.nat_timeout_s, tuning.nat_keepalive_s): the
 * end with peer keeps its NAT mapping open below the timeout; `check` states
 * the cost per hour; a keepalive at or above the timeout is refused.
 */
import test from 'ava';
import { loadProfile, natKeepaliveBytesPerHour, parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { linkTuning } from '../../src/relay/from-config.ts';
import { MINIMAL, issueAt, issuesOf, posOf } from './helpers.ts';

const STARLINK = MINIMAL.replace('profile: bgan-64k', 'profile: starlink-maritime');
const load = (text: string) => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false });

test('starlink-maritime: a 30 s NAT timeout gives a 20 s keepalive costing at most 21600 B per idle hour', (t) => {
  const p = loadProfile('starlink-maritime');
  t.is(p.bearer.nat_timeout_s, 30);
  t.is(p.tuning.nat_keepalive_s, 20);
  t.is(natKeepaliveBytesPerHour(p.tuning), 21600);
  t.is(loadProfile('bgan-64k').tuning.nat_keepalive_s, undefined, 'no NAT timeout, no NAT keepalive');
  t.is(natKeepaliveBytesPerHour(loadProfile('bgan-64k').tuning), 0);
});

test('check prints the NAT keepalive and its cost on the end with peer; the core gets the shorter keepalive there only', (t) => {
  const ship = load(STARLINK);
  t.regex(renderEffectiveConfig(ship), /# {3}NAT keepalive: a ping every 20 s when idle, below the bearer's 30 s NAT timeout \(21600 B per hour, both ways, while idle\); in an outage the probes keep it/);
  t.regex(renderEffectiveConfig(ship), /nat_keepalive_s: 20 +# keepalive of an end with peer/);
  t.is(linkTuning(ship, ship.links[0]).keepaliveS, 20);
  const shore = load(STARLINK.replace('    peer: "127.0.0.1:5299"\n', ''));
  t.is(linkTuning(shore, shore.links[0]).keepaliveS, 30, 'the end without peer keeps keepalive_s');
  t.regex(renderEffectiveConfig(shore), /# {3}roaming: no peer, .* and keeps its NAT mapping open \(21600 B per hour, both ways, while idle\)/);
  t.notRegex(renderEffectiveConfig(load(MINIMAL)), /NAT keepalive/);
});

test('a link override moves the keepalive and its cost; at or above the NAT timeout it is refused at its key', (t) => {
  const every10 = load(STARLINK.replace('    key_file:', '    tuning: { nat_keepalive_s: 10 }\n    key_file:'));
  t.regex(renderEffectiveConfig(every10), /NAT keepalive: a ping every 10 s when idle, below the bearer's 30 s NAT timeout \(43200 B per hour/);
  const text = STARLINK.replace('    key_file:', '    tuning: { nat_keepalive_s: 30 }\n    key_file:');
  t.like(issueAt(t, issuesOf(t, () => load(text)), 'links[0].tuning.nat_keepalive_s'), {
    ...posOf(text, '30 }'),
    message: "expected less than the bearer's nat_timeout_s (30), or the NAT forgets the mapping between keepalives; got 30",
  });
});

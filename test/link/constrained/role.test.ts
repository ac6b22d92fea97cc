/** The link role: both ends of a correctly configured pair derive opposite roles. */
import test from 'ava';
import { linkRole } from '../../../src/link/constrained/link.ts';
import { parseSiteConfig, ConfigError } from '../../../src/config/index.ts';

test('ship and shore with wildcard patterns for the partner derive opposite roles', (t) => {
  // As in examples/ship.yaml and examples/shore.yaml.
  const ship = linkRole(['a.example', 'muc.a.example'], ['b.example', '*.b.example']);
  const shore = linkRole(['b.example'], ['a.example', 'muc.a.example']);
  t.is(ship, 'a');
  t.is(shore, 'b');
  // Patterns only on the far side of the other end too.
  t.not(linkRole(['z.example'], ['*.y.example']), linkRole(['y.example', 'conf.y.example'], ['z.example']));
});

test('an explicit role wins; "*" alone cannot be decided', (t) => {
  t.is(linkRole(['a.example'], ['b.example'], 'b'), 'b');
  t.throws(() => linkRole(['a.example'], ['*']), { message: /set role a at one end and b at the other/ });
});

test('the site file asks for role when a spooled link lists only "*"', (t) => {
  const text = (role: string) => `site: ship
data_dir: /tmp/satrelay-role
local: { domains: [a.example] }
links:
  - name: shore
    domains: ["*"]
    profile: lan
    transport: tcp
    peer: "127.0.0.1:5299"
    key_file: /dev/null
${role}`;
  const err = t.throws(() => parseSiteConfig(text(''), 'ship.yaml', { checkKeyFiles: false }), { instanceOf: ConfigError });
  t.regex(err!.message, /ship\.yaml:6:\d+: links\[0\]\.domains: .*expected role: a here and role: b at the partner/);
  const cfg = parseSiteConfig(text('    role: b\n'), 'ship.yaml', { checkKeyFiles: false });
  t.is(cfg.links[0].role, 'b');
});

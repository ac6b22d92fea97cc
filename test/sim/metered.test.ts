/** bench --metered: the argument, and the site files it gives the relays (loaded by the real config loader). */
import test from 'ava';
import { parseSiteConfig } from '../../src/config/index.ts';
import { meteredSite, parseMeteredArg } from '../../src/sim/metered.ts';
import { siteYaml } from '../../src/sim/world.ts';

test('--metered COST_PER_MB:BUDGET_MB', (t) => {
  t.deepEqual(parseMeteredArg('7.5:20'), { cost_per_mb: 7.5, daily_budget_mb: 20 });
  t.deepEqual(parseMeteredArg('0:0.5'), { cost_per_mb: 0, daily_budget_mb: 0.5 });
  for (const bad of ['7.5', '7.5:0', 'a:1', '-1:2', '1:2:3']) t.throws(() => parseMeteredArg(bad), { message: /expected COST_PER_MB:BUDGET_MB/ }, bad);
});

test('the relays of a metered bench run get a metered link and a 10 s hold time', (t) => {
  const yaml = siteYaml({ site: 'ship', dir: '/tmp/x', local: ['a.example'], remote: ['b.example'], peerAddr: '127.0.0.1:5269', profile: 'bgan-64k', bind: '127.0.0.1:5299', emu: '127.0.0.1:6000', key: 'k.key', ...meteredSite({ cost_per_mb: 7.5, daily_budget_mb: 20 }) });
  const cfg = parseSiteConfig(yaml, '/tmp/x/ship.yaml', { checkKeyFiles: false });
  t.deepEqual(cfg.links[0].metered, { cost_per_mb: 7.5, daily_budget_mb: 20, carry: ['messages', 'iq'], currency: '' });
  t.is(cfg.limits.held_stanza_timeout_s, 10);
  t.deepEqual(meteredSite(undefined), {});
});

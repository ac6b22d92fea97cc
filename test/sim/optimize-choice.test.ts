import test from 'ava';
import { parseOptimizeChoice, optimizeYaml } from '../../src/sim/optimize-choice.ts';
import { parseSiteConfig } from '../../src/config/index.ts';

const site = (extra: string): string => `site: ship
data_dir: /tmp/satrelay-optimize-choice
local: { domains: [a.example] }
links:
  - { name: shore, domains: [b.example], transport: xep0361, profile: lan, peer: "127.0.0.1:5999" }
${extra}`;

test('on, off and a list of optimizers left on are accepted and normalized', (t) => {
  t.is(parseOptimizeChoice('on'), 'on');
  t.is(parseOptimizeChoice('off'), 'off');
  t.is(parseOptimizeChoice('fanout, disco_cache'), 'disco_cache,fanout');
  t.is(parseOptimizeChoice('fanout,presence,disco_cache'), 'on', 'all three is on');
  t.throws(() => parseOptimizeChoice('fanout,caching'), { message: /unknown optimizer "caching"/ });
});

test('each choice gives a site file whose optimize section has exactly those on', (t) => {
  const cases: Array<[string, { presence: string; disco_cache: boolean; fanout: boolean }]> = [
    ['on', { presence: 'coalesce', disco_cache: true, fanout: true }],
    ['off', { presence: 'off', disco_cache: false, fanout: false }],
    ['fanout', { presence: 'off', disco_cache: false, fanout: true }],
    ['disco_cache,presence', { presence: 'coalesce', disco_cache: true, fanout: false }],
  ];
  for (const [choice, want] of cases) {
    const cfg = parseSiteConfig(site(optimizeYaml(choice)), 'site.yaml');
    t.like(cfg.optimize, want, choice);
  }
});

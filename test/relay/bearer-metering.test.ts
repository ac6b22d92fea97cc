/**
 * A link over several bearers with a metered backup: check shows which
 * bearer is metered; the relay's metering follows each switch of the bearer
 * selection (presence waits only while the metered backup carries the link),
 * and status shows the metered bearer's cost today.
 */
import test from 'ava';
import { parseSiteConfig, renderEffectiveConfig, linkBearers } from '../../src/config/index.ts';
import { linkScheduler, bearerMetering } from '../../src/relay/metered-link.ts';
import type { BearerDef } from '../../src/link/bearers/index.ts';
import { createLogger } from '../../src/obs/log.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { issueAt, issuesOf, posOf, tempDir } from '../config/helpers.ts';

const SITE = `site: ship-1
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
      - profile: bgan-64k
        transport: udp
        bind: "0.0.0.0:5300"
        peer: "198.18.0.2:5301"
        metered: { cost_per_mb: 7.5, daily_budget_mb: 20, carry: [messages, iq], currency: USD }
`;
// The site file in a fresh directory: data_dir (the spend file) lives beside it.
const load = (t: ExecutionContext, text: string) => parseSiteConfig(text, join(tempDir(t), 'ship.yaml'), { checkKeyFiles: false });

test('a bearer of its own metered: loaded per bearer, shown by check under that bearer, loads again', (t) => {
  const cfg = load(t, SITE);
  const bs = linkBearers(cfg.links[0]);
  t.is(bs[0].metered, null);
  t.deepEqual(bs[1].metered, { cost_per_mb: 7.5, daily_budget_mb: 20, carry: ['messages', 'iq'], currency: 'USD' });
  const text = renderEffectiveConfig(cfg);
  t.regex(text, /# {3}bearer 2:bgan-64k is metered:\n.*# {3}metered: carries messages, iq; presence and disco wait for an unmetered bearer/);
  t.notRegex(text, /bearer 1:starlink-maritime is metered/);
  t.notThrows(() => load(t, text.replace(/^\s*#.*$/gm, '')));
});

test('metered: at the link next to bearers: refused at its line, pointing to the bearer', (t) => {
  const bad = SITE.replace('    key_file: keys/shore.key\n', '    key_file: keys/shore.key\n    metered: { cost_per_mb: 1, daily_budget_mb: 1 }\n');
  const issue = issueAt(t, issuesOf(t, () => load(t, bad)), 'links[0].metered');
  t.is(issue.line, posOf(bad, '    metered: { cost_per_mb: 1').line);
  t.regex(issue.message, /each bearer has its own metered \(links\[0\]\.bearers\[0\]\.metered for the primary\)/);
});

test("the relay's metering follows the bearer selection: presence waits on the metered backup only", (t) => {
  const cfg = load(t, SITE);
  const link = cfg.links[0];
  const bearers = linkBearers(link);
  const metrics = new Metrics();
  const { metering } = linkScheduler(cfg, { ...link }, { logger: createLogger({ level: 'silent' }), metrics });
  t.truthy(metering, 'a link with a metered bearer is metered');
  const hooks = bearerMetering(bearers, metering);
  const def = (i: number) => ({ name: `${i + 1}:${bearers[i].profile}` }) as BearerDef;
  const now = Date.now();
  t.is(metering!.meter.current, '1:starlink-maritime');
  t.is(metering!.meter.decide('presence', false, now), 'send', 'on the unmetered primary everything goes');
  t.is(hooks.accounting!.costToday('1:starlink-maritime'), undefined, 'no cost shown for an unmetered bearer');
  hooks.onSwitch!(def(1), 1);
  t.is(metering!.meter.current, '2:bgan-64k');
  t.is(metering!.meter.decide('presence', false, now), 'hold');
  t.is(metering!.meter.decide('disco', false, now), 'hold');
  t.is(metering!.meter.decide('messages', false, now), 'send');
  metering!.meter.sent('2:bgan-64k', 2_000_000, now);
  t.is(hooks.accounting!.costToday('2:bgan-64k'), 15, '2 MB at 7.5 per MB');
  hooks.onSwitch!(def(0), 0);
  t.is(metering!.meter.decide('presence', false, now), 'send', 'failback: what waited may go');
  t.is(hooks.accounting!.costToday('2:bgan-64k'), 15, 'the backup keeps its cost of the day');
  metering!.close();
});

test('no metered bearer: no metering, no hooks', (t) => {
  const cfg = load(t, SITE.replace(/ {8}metered:.*\n/, ''));
  const { metering } = linkScheduler(cfg, cfg.links[0], { logger: createLogger({ level: 'silent' }), metrics: new Metrics() });
  t.is(metering, undefined);
  t.deepEqual(bearerMetering(linkBearers(cfg.links[0]), metering), {});
});

/**
 * A relay built from a site file with a metered link: the day's spend kept in
 * data_dir/link-state is read back at start, and `satrelay status` and the
 * metrics show the cost so far today and the budget left.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { utcDay } from '../../src/link/metered/index.ts';
import { formatStatus } from '../../src/cli/status.ts';
import { renderStatusPage } from '../../src/obs/index.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

test('status and metrics show a metered link\'s cost today and budget left, counted from the spend kept before the start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-metered-status-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'shore.key'), generateKeyText(), { mode: 0o600 });
  const day = utcDay(Date.now());
  mkdirSync(join(dir, 'ship', 'link-state'), { recursive: true });
  writeFileSync(join(dir, 'ship', 'link-state', 'shore.metered.json'), JSON.stringify({ format: 1, day, bytes: { 'bgan-64k': 5_000_000 } }));
  const cfg = parseSiteConfig(`site: ship
data_dir: ${join(dir, 'ship')}
local: { domains: [a.example], listen: ["127.0.0.1:${await freeTcpPort()}"], tls: { require: false } }
links:
  - name: shore
    domains: [b.example]
    profile: bgan-64k
    transport: udp
    bind: "127.0.0.1:${await freeUdpPort()}"
    peer: "127.0.0.1:${await freeUdpPort()}"
    key_file: shore.key
    metered: { cost_per_mb: 7.5, daily_budget_mb: 20, currency: USD }
metrics: { listen: null }
`, join(dir, 'ship.yaml'));
  const relay = buildRelay(cfg, {});
  await relay.start();
  t.teardown(() => relay.stop());
  const m = relay.status().links[0].metered;
  // Started within the UTC day the file was written for (a start across midnight counts from 0 instead).
  if (utcDay(Date.now()) !== day) return t.is(m?.day, utcDay(Date.now()));
  t.like(m, { bearer: 'bgan-64k', metered: true, day, currency: 'USD', spent: false, budgetBytes: 20_000_000, held: 0 });
  t.true(m!.bytesToday >= 5_000_000 && m!.bytesToday < 5_010_000, `${m!.bytesToday} B today`);
  t.true(m!.costToday >= 37.5 && m!.costToday < 37.6);
  const text = formatStatus(relay.status());
  t.regex(text, /metered bgan-64k: today \(UTC \d{4}-\d\d-\d\d\) 5\.00 MB, cost 37\.5\d USD; budget left 1[45]\.\d\d MB of 20\.00 MB; carries messages, iq; 0 held for a better bearer/);
  const page = renderStatusPage({ ...relay.status(), version: 'test', errors: [] }, () => [], Date.now());
  t.regex(page, /<th>metered today \(UTC\)<\/th>/);
  t.regex(page, /<td>bgan-64k: 5(\.\d+)? MB, 37\.5\d? USD; 1[45](\.\d+)? MB left; 0 held<\/td>/);
  const metrics = await relay.metrics.text();
  t.regex(metrics, /# HELP satrelay_metered_cost_today Cost of the bytes counted on a metered bearer since 00:00 UTC/);
  t.regex(metrics, /satrelay_metered_cost_today\{[^}]*link="shore"[^}]*bearer="bgan-64k"[^}]*\} 37\.5/);
  t.regex(metrics, /satrelay_metered_budget_remaining_bytes\{[^}]*\} 1[45]\d{6}/);
});

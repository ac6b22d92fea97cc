/**
 * Per-link spools on disk (data_dir/spool/<link>/) and the shared spool of
 * earlier versions (data_dir/spool/data.mdb): moved for one link, split when
 * drained, refused with a logged explanation while it still holds stanzas.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { generateKeyText, loadSiteConfig, parseSiteConfig, type SiteConfig } from '../../src/config/index.ts';
import { LegacySpoolError, openLinkSpools } from '../../src/relay/from-config.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import type { Logger } from '../../src/obs/log.ts';
import { Spool } from '../../src/spool/index.ts';

function setup(t: import('ava').ExecutionContext, links: string[]): { cfg: SiteConfig; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-spool-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const yaml = `site: shore
data_dir: ${join(dir, 'data')}
local: { domains: [shore.example], listen: ["127.0.0.1:0"] }
links:
${links.map((l, i) => `  - { name: ${l}, domains: [${l}.example], profile: lan, transport: udp, bind: "127.0.0.1:${41000 + i}", peer: "127.0.0.1:${40000 + i}", key_file: ${join(dir, 'k.key')} }`).join('\n')}
metrics: { listen: null }
`;
  return { cfg: parseSiteConfig(yaml, join(dir, 'site.yaml')), dir };
}

/** A spool in the old shared place, written as an earlier version would. */
async function legacySpool(cfg: SiteConfig, fill: (s: Spool) => Promise<void>): Promise<void> {
  const s = Spool.open(join(cfg.data_dir, 'spool'), { maxBytes: 1e9, maxStanzas: 1e6 });
  await fill(s);
  await s.close();
}

const meta = () => ({ priority: 'high' as const, acceptedAt: Date.now() });

function capture(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { out.push(String(chunk)); cb(); } });
  return { logger: pino({ level: 'info' }, stream) as Logger, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

test('each spooled link opens its own spool directory, with its own limits and link-labelled gauges', async (t) => {
  const { cfg } = setup(t, ['ship1', 'ship2']);
  cfg.links[1].limits = { spool_max_bytes: 1e6, spool_max_stanzas: 1 };
  const metrics = new Metrics();
  const spools = openLinkSpools(cfg, { logger: pino({ level: 'silent' }), metrics });
  t.teardown(() => Promise.all([...spools.values()].map((s) => s.close())));
  t.not(spools.get('ship1'), spools.get('ship2'));
  t.true(existsSync(join(cfg.data_dir, 'spool', 'ship1', 'data.mdb')));
  t.true(existsSync(join(cfg.data_dir, 'spool', 'ship2', 'data.mdb')));
  await spools.get('ship1')!.accept('ship1', Buffer.from('<message/>'), meta());
  await spools.get('ship1')!.accept('ship1', Buffer.from('<message/>'), meta());
  await spools.get('ship2')!.accept('ship2', Buffer.from('<message/>'), meta());
  await t.throwsAsync(spools.get('ship2')!.accept('ship2', Buffer.from('<message/>'), meta()), { message: /full/ }, 'ship2 has its own limit');
  t.is(metrics.get('spool_outbound_stanzas', { link: 'ship1' }), 2);
  t.is(metrics.get('spool_outbound_stanzas', { link: 'ship2' }), 1);
  t.is(metrics.get('spool_outbound_bytes', { link: 'ship2' }), '<message/>'.length);
});

test('a shared spool of an earlier version moves to the one spooled link, stanzas and all', async (t) => {
  const { cfg } = setup(t, ['ship1']);
  await legacySpool(cfg, async (s) => {
    for (let i = 0; i < 3; i++) await s.accept('ship1', Buffer.from(`<message id='${i}'/>`), meta());
  });
  const log = capture();
  const spools = openLinkSpools(cfg, { logger: log.logger, metrics: new Metrics() });
  t.teardown(() => Promise.all([...spools.values()].map((s) => s.close())));
  t.false(existsSync(join(cfg.data_dir, 'spool', 'data.mdb')));
  t.deepEqual(spools.get('ship1')!.pending('ship1').map((e) => e.stanza.toString()), [0, 1, 2].map((i) => `<message id='${i}'/>`));
  t.is(spools.get('ship1')!.nextId('ship1'), 4n, 'ids continue where they were');
  t.true(log.lines().some((l) => l.level === 40 && /moved the shared spool/.test(String(l.msg))));
});

test('a shared spool of an earlier version moves to a link named like a domain, and opens there', async (t) => {
  // Before per-link spools a link named "to-b.example" ran on data_dir/spool; upgraded in place it must find its stanzas.
  const { cfg } = setup(t, ['to-b.example']);
  await legacySpool(cfg, async (s) => {
    await s.accept('to-b.example', Buffer.from(`<message id='kept'/>`), meta());
  });
  const spools = openLinkSpools(cfg, { logger: pino({ level: 'silent' }), metrics: new Metrics() });
  t.teardown(() => Promise.all([...spools.values()].map((s) => s.close())));
  t.true(existsSync(join(cfg.data_dir, 'spool', 'to-b.example', 'data.mdb')));
  t.deepEqual(spools.get('to-b.example')!.pending('to-b.example').map((e) => e.stanza.toString()), [`<message id='kept'/>`]);
});

test('a drained shared spool is split: every link keeps its ids and dedup state', async (t) => {
  const { cfg } = setup(t, ['ship1', 'ship2']);
  await legacySpool(cfg, async (s) => {
    for (const l of ['ship1', 'ship2']) {
      const id = await s.accept(l, Buffer.from('<message/>'), meta());
      await s.ack(l, id);
    }
    await s.receive('ship2', 1n, Buffer.from('<message/>'));
    await s.handedOver('ship2', 1n);
  });
  const spools = openLinkSpools(cfg, { logger: pino({ level: 'silent' }), metrics: new Metrics() });
  t.teardown(() => Promise.all([...spools.values()].map((s) => s.close())));
  t.is(spools.get('ship1')!.nextId('ship1'), 2n);
  t.is(spools.get('ship2')!.nextId('ship2'), 2n);
  t.is(spools.get('ship2')!.deliveredUpTo('ship2'), 1n, 'an id already delivered stays a duplicate');
  t.true(existsSync(join(cfg.data_dir, 'spool-shared.mdb.migrated')));
  t.false(existsSync(join(cfg.data_dir, 'spool', 'data.mdb')));
});

test('a shared spool still holding stanzas for several links is refused with a logged explanation', async (t) => {
  const { cfg } = setup(t, ['ship1', 'ship2']);
  await legacySpool(cfg, async (s) => {
    await s.accept('ship1', Buffer.from('<message/>'), meta());
  });
  const log = capture();
  const err = t.throws(() => openLinkSpools(cfg, { logger: log.logger, metrics: new Metrics() }), { instanceOf: LegacySpoolError });
  t.is(err?.code, 'SPOOL_LEGACY_LAYOUT');
  t.regex(err?.message ?? '', /still holds 1 outbound/);
  t.regex(err?.message ?? '', /ship1, ship2/);
  t.true(existsSync(join(cfg.data_dir, 'spool', 'data.mdb')), 'left as it was');
  t.false(existsSync(join(cfg.data_dir, 'spool', 'ship1', 'data.mdb')));
  t.true(log.lines().some((l) => l.level === 50 && /refusing/.test(String(l.msg)) && /previous version/.test(String(l.err))));
});

test('examples/hub.yaml: one spooled link per ship, each with its limits, mirroring ship.yaml and ship-2.yaml', (t) => {
  const hub = loadSiteConfig(resolve('examples/hub.yaml'));
  const ships = [loadSiteConfig(resolve('examples/ship.yaml')), loadSiteConfig(resolve('examples/ship-2.yaml'))];
  t.deepEqual(hub.links.map((l) => l.limits), [
    { spool_max_bytes: hub.limits.spool_max_bytes, spool_max_stanzas: hub.limits.spool_max_stanzas },
    { spool_max_bytes: 16777216, spool_max_stanzas: 5000 },
  ]);
  ships.forEach((ship, i) => {
    const [hubLink, shipLink] = [hub.links[i], ship.links[0]];
    t.is(hubLink.bind, shipLink.peer);
    t.is(hubLink.peer, shipLink.bind);
    t.is(hubLink.keyId, shipLink.keyId, 'same key on both ends');
    t.is(hubLink.profile, shipLink.profile);
    t.deepEqual(hubLink.domains, ship.local.domains);
    t.deepEqual(shipLink.domains.filter((d) => !d.startsWith('*')), hub.local.domains);
  });
  t.not(hub.links[0].keyId, hub.links[1].keyId, 'a key per ship');
});

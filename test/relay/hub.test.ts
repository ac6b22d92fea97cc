/**
 * Hub mode: one shore relay with a constrained udp link per ship (ship1,
 * ship2), each through its own emulated bearer to its own ship relay. Ship 1's
 * bearer is in an outage with a full backlog spooled for it; a stanza for ship
 * 2 still goes straight through, because each link has its own spool (and
 * limits), queue and metrics series. When ship 1's bearer returns, its backlog
 * arrives complete and without duplicates.
 */
import test from 'ava';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S2SService } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay, RelayStatus } from '../../src/relay/relay.ts';
import { loadBearerParams, startUdpEmulator, type BearerParams, type UdpEmulatorHandle } from '../../src/emulator/index.ts';
import { formatStatus } from '../../src/cli/status.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

const BACKLOG = 60;

/** Polls `cond` every 25 ms until it holds or `ms` pass (then the caller's assertion reports what is missing). */
async function until(cond: () => boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

const lan = loadBearerParams('lan');
/** The bearer with an outage from its start that outlasts the test: nothing crosses until it is replaced. */
const down: BearerParams = { ...lan, outages: [{ start_s: 0, duration_s: 3600 }] };

test.serial('hub: a stanza for ship 2 is delivered while ship 1 is in an outage with a full backlog; the backlog follows, complete, once it returns', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-hub-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = { ship1: join(dir, 'ship1.key'), ship2: join(dir, 'ship2.key') };
  for (const k of Object.values(keys)) writeFileSync(k, generateKeyText(), { mode: 0o600 });
  const cleanup: Array<() => Promise<void> | void> = [];
  t.teardown(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  // ---- the local XMPP servers: shore.example, ship1.example, ship2.example
  const relayPorts = { shore: await freeTcpPort(), ship1: await freeTcpPort(), ship2: await freeTcpPort() };
  const got: Record<'shore' | 'ship1' | 'ship2', XmlElement[]> = { shore: [], ship1: [], ship2: [] };
  const server = async (name: 'shore' | 'ship1' | 'ship2', remote: string[]) => {
    const relay = `127.0.0.1:${relayPorts[name]}`;
    const svc = new S2SService({
      listen: ['127.0.0.1:0'],
      localDomains: remote,
      servedDomains: (d) => d === `${name}.example`,
      routes: Object.fromEntries(remote.map((d) => [d, relay])),
      tls: { certs: new CertStore({ dir: join(dir, `certs-${name}`) }), require: false },
      secret: randomBytes(32),
      maxStanzaBytes: 262144,
      onStanza: (el) => void got[name].push(el),
      onUndeliverable: () => undefined,
    });
    await svc.start();
    cleanup.push(() => svc.stop());
    return svc;
  };
  const shoreServer = await server('shore', ['ship1.example', 'ship2.example']);
  const ship1Server = await server('ship1', ['shore.example']);
  const ship2Server = await server('ship2', ['shore.example']);

  // ---- one emulated bearer per ship: a = shore side, b = ship side
  const udp = { shore1: await freeUdpPort(), shore2: await freeUdpPort(), ship1: await freeUdpPort(), ship2: await freeUdpPort() };
  const bearer = async (params: BearerParams, shoreUdp: number, shipUdp: number, listen?: { a: number; b: number }) => {
    const emu = await startUdpEmulator({
      params,
      seed: 7,
      a: { listen: `127.0.0.1:${listen?.a ?? 0}`, forward: `127.0.0.1:${shoreUdp}` },
      b: { listen: `127.0.0.1:${listen?.b ?? 0}`, forward: `127.0.0.1:${shipUdp}` },
    });
    cleanup.push(() => emu.close());
    return emu;
  };
  let bearer1: UdpEmulatorHandle = await bearer(down, udp.shore1, udp.ship1);
  const bearer2 = await bearer(lan, udp.shore2, udp.ship2);

  // ---- relays. The site spool limit (the default for each link) is the backlog size.
  const fast = 'reconnect: { min_s: 0.2, max_s: 1 }\n    tuning: { rto_max_ms: 500, keepalive_s: 1 }';
  const shoreData = join(dir, 'shore');
  const shoreCfg = parseSiteConfig(
    `site: shore
data_dir: ${shoreData}
local: { domains: [shore.example], listen: ["127.0.0.1:${relayPorts.shore}"], routes: { shore.example: "127.0.0.1:${shoreServer.addresses[0].port}" } }
links:
  - name: ship1
    domains: [ship1.example]
    profile: lan
    transport: udp
    bind: "127.0.0.1:${udp.shore1}"
    peer: "127.0.0.1:${bearer1.addresses.a.port}"
    key_file: ${keys.ship1}
    ${fast}
  - name: ship2
    domains: [ship2.example]
    profile: lan
    transport: udp
    bind: "127.0.0.1:${udp.shore2}"
    peer: "127.0.0.1:${bearer2.addresses.a.port}"
    key_file: ${keys.ship2}
    limits: { spool_max_stanzas: 5 }
    ${fast}
limits: { spool_max_stanzas: ${BACKLOG} }
metrics: { listen: "127.0.0.1:0" }
`,
    join(dir, 'shore.yaml'),
  );
  // A spool shared by both links would be full once ship1's backlog is in; each link's own is not.
  t.deepEqual(shoreCfg.links.map((l) => l.limits?.spool_max_stanzas), [BACKLOG, 5], 'site limit as the default, a link\'s own limit');
  const ship = (name: 'ship1' | 'ship2', srv: S2SService, emuB: number) =>
    parseSiteConfig(
      `site: ${name}
data_dir: ${join(dir, name)}
local: { domains: [${name}.example], listen: ["127.0.0.1:${relayPorts[name]}"], routes: { ${name}.example: "127.0.0.1:${srv.addresses[0].port}" } }
links:
  - name: shore
    domains: [shore.example]
    profile: lan
    transport: udp
    bind: "127.0.0.1:${udp[name]}"
    peer: "127.0.0.1:${emuB}"
    key_file: ${keys[name]}
    ${fast}
metrics: { listen: null }
`,
      join(dir, `${name}.yaml`),
    );
  const relays: Relay[] = [];
  const start = async (cfg: ReturnType<typeof parseSiteConfig>) => {
    const r = buildRelay(cfg, {});
    await r.start();
    relays.push(r);
    cleanup.push(() => r.stop());
    return r;
  };
  const shore = await start(shoreCfg);
  await start(ship('ship1', ship1Server, bearer1.addresses.b.port));
  await start(ship('ship2', ship2Server, bearer2.addresses.b.port));

  const msg = (to: string, id: string) =>
    parseXml(`<message xmlns='jabber:server' from='ops@shore.example/desk' to='${to}' id='${id}' type='chat'><body>${id}</body></message>`);
  const linkStatus = (name: string) => shore.status().links.find((l) => l.name === name)!;

  // ---- ship 1: a full backlog while its bearer is out
  for (let i = 0; i < BACKLOG; i++) shoreServer.deliver(msg('crew@ship1.example/bridge', `s1-${i}`));
  t.true(await until(() => linkStatus('ship1').spooled === BACKLOG), `ship1 backlog spooled (${linkStatus('ship1').spooled})`);
  // one more is over ship1's own limit: refused and bounced to its sender
  shoreServer.deliver(msg('crew@ship1.example/bridge', 's1-over'));
  t.true(await until(() => got.shore.some((e) => e.attr('id') === 's1-over')), 'the stanza over ship1\'s limit bounces');
  const bounce = got.shore.find((e) => e.attr('id') === 's1-over')!;
  t.is(bounce.attr('type'), 'error');
  t.truthy(bounce.getChild('error')?.getChild('resource-constraint', 'urn:ietf:params:xml:ns:xmpp-stanzas'), bounce.toString());

  // ---- ship 2: delivered although ship1's spool is full and its link is down
  shoreServer.deliver(msg('crew@ship2.example/bridge', 's2-0'));
  t.true(await until(() => got.ship2.length === 1 || got.shore.some((e) => e.attr('id') === 's2-0')), 'ship2 stanza delivered or bounced');
  t.false(got.shore.some((e) => e.attr('id') === 's2-0'), 'ship2 stanza not bounced (its spool is not ship1\'s)');
  t.is(got.ship2[0].attr('id'), 's2-0');
  t.is(got.ship1.length, 0, 'ship1 backlog still undelivered when ship2\'s stanza arrived');
  t.is(linkStatus('ship1').spooled, BACKLOG);
  t.false(linkStatus('ship1').up);

  // ---- per-link spools on disk, and per-link series in /metrics and satrelay status
  t.true(existsSync(join(shoreData, 'spool', 'ship1', 'data.mdb')));
  t.true(existsSync(join(shoreData, 'spool', 'ship2', 'data.mdb')));
  t.false(existsSync(join(shoreData, 'spool', 'data.mdb')), 'no shared spool');
  const metrics = await (await fetch(`http://127.0.0.1:${shore.obsPort}/metrics`)).text();
  const series = (name: string, link: string) => {
    const m = metrics.split('\n').find((l) => l.startsWith(`satrelay_${name}{`) && l.includes(`link="${link}"`));
    return m === undefined ? undefined : Number(m.slice(m.lastIndexOf(' ') + 1));
  };
  t.is(series('spool_outbound_stanzas', 'ship1'), BACKLOG, metrics);
  t.is(series('spool_outbound_stanzas', 'ship2'), 0);
  t.is(series('spool_depth_stanzas', 'ship1'), BACKLOG);
  t.is(series('spool_depth_stanzas', 'ship2'), 0);
  t.is(series('link_up', 'ship1'), 0);
  t.is(series('link_up', 'ship2'), 1);
  t.is(series('spool_full_total', 'ship1'), 1);
  t.is(series('spool_full_total', 'ship2'), undefined);
  t.is(series('spool_acked_total', 'ship2'), 1);
  const status = formatStatus((await (await fetch(`http://127.0.0.1:${shore.obsPort}/status`)).json()) as RelayStatus);
  t.regex(status, new RegExp(`ship1\\s+udp\\s+DOWN .*spool ${BACKLOG} \\(oldest`));
  t.regex(status, /ship2\s+udp\s+UP .*spool 0/);

  // ---- ship 1's bearer returns (same addresses, no outage): the backlog arrives, once each
  const ports = { a: bearer1.addresses.a.port, b: bearer1.addresses.b.port };
  await bearer1.close();
  bearer1 = await bearer(lan, udp.shore1, udp.ship1, ports);
  t.true(await until(() => linkStatus('ship1').spooled === 0), `ship1 spool drained (${linkStatus('ship1').spooled} left)`);
  t.true(await until(() => got.ship1.length >= BACKLOG), `ship1 received ${got.ship1.length}`);
  const ids = got.ship1.map((e) => e.attr('id'));
  t.is(ids.length, BACKLOG, 'no duplicates');
  t.deepEqual([...ids].sort(), Array.from({ length: BACKLOG }, (_, i) => `s1-${i}`).sort(), 'every backlog stanza, nothing else');
  t.is(got.ship2.length, 1);
});

/**
 * Two real Prosody servers federating through a satrelay pair:
 *   Prosody a.example <-S2S-> relay ship <-link-> relay shore <-S2S-> Prosody b.example
 * Each Prosody routes the other domain to its own relay.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { generateKeyText } from '../../src/config/index.ts';
import { startUdpEmulator, startPtyEmulator } from '../../src/emulator/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProsodyServer, prosodyAvailable, freePort } from '../helpers/prosody.ts';
import { XmppClient, subscribeBoth, bare, type ClientEvent } from '../helpers/xmpp-client.ts';
import { parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay } from '../../src/relay/relay.ts';
import { Xep0361Link } from '../../src/link/xep0361/link.ts';
import { createLogger } from '../../src/obs/log.ts';
import { prosodyPair, pairSiteYaml } from './prosody-pair.ts';

const run = prosodyAvailable() || process.env.CI ? test.serial : test.skip;

interface World { relayA: Relay; relayB: Relay; a: ProsodyServer; b: ProsodyServer; alice: XmppClient; bob: XmppClient; restart(side: 'A' | 'B'): Promise<void> }

export type LinkMode = 'xep0361' | 'udp' | 'serial';


/** Link sections for both relays, and whatever the bearer needs (an emulator). */
async function linkSections(t: ExecutionContext, mode: LinkMode, dir: string): Promise<{ a: string; b: string; profile: string; later?: (addrA: { port: number }) => string }> {
  if (mode === 'xep0361') {
    return { a: '    transport: xep0361\n    bind: "127.0.0.1:0"', b: '', profile: 'lan', later: (addrA) => `    transport: xep0361\n    peer: "127.0.0.1:${addrA.port}"` };
  }
  writeFileSync(join(dir, 'link.key'), generateKeyText(), { mode: 0o600 });
  const key = `    key_file: ${join(dir, 'link.key')}`;
  if (mode === 'udp') {
    // Through a lossy emulated bearer: 10 % loss, 20 ms each way, seeded.
    const [ra, rb] = [await freeUdpPort(), await freeUdpPort()];
    const emu = await startUdpEmulator({
      params: { rate_bps: 2_000_000, delay_ms: 20, loss: { model: 'bernoulli', p: 0.1 }, mtu: 1500 },
      seed: 4242,
      a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ra}` },
      b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${rb}` },
    });
    t.teardown(() => emu.close());
    return {
      a: `    transport: udp\n    bind: "127.0.0.1:${ra}"\n    peer: "127.0.0.1:${emu.addresses.a.port}"\n${key}`,
      b: `    transport: udp\n    bind: "127.0.0.1:${rb}"\n    peer: "127.0.0.1:${emu.addresses.b.port}"\n${key}`,
      profile: 'lossy-test',
    };
  }
  // Serial: two ptys joined by the emulator, 115200 bit/s with bit errors on the line.
  const pty = await startPtyEmulator({ params: { rate_bps: 115_200, delay_ms: 5, ber: 1e-5, mtu: 4096 }, seed: 99, dir });
  t.teardown(() => pty.close());
  return {
    a: `    transport: serial\n    device: ${pty.deviceA}\n    baud: 115200\n${key}`,
    b: `    transport: serial\n    device: ${pty.deviceB}\n    baud: 115200\n${key}`,
    profile: 'lan',
  };
}

async function startWorld(t: ExecutionContext, s2sTls: 'required' | 'off', mode: LinkMode = 'xep0361'): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-interop-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [pA, pB] = [await freePort('127.0.0.2'), await freePort('127.0.0.3')];
  const tlsRequire = s2sTls === 'required';
  const links = await linkSections(t, mode, dir);
  const yamlA = pairSiteYaml({ site: 'ship', dir: join(dir, 'ship'), listen: '127.0.0.4:0', route: `127.0.0.2:${pA}`, tlsRequire, link: `    profile: ${links.profile}\n${links.a}` });
  const cfgA = () => parseSiteConfig(yamlA, join(dir, 'ship.yaml'));
  const relays: { A?: Relay; B?: Relay } = {};
  relays.A = buildRelay(cfgA(), { logger: testLogger('ship') });
  await relays.A.start();
  const linkB = links.later ? links.later((relays.A.links[0] as Xep0361Link).address!) : links.b;
  const yamlB = pairSiteYaml({ site: 'shore', dir: join(dir, 'shore'), listen: '127.0.0.5:0', route: `127.0.0.3:${pB}`, tlsRequire, link: `    profile: ${links.profile}\n${linkB}` });
  const cfgB = () => parseSiteConfig(yamlB, join(dir, 'shore.yaml'));
  relays.B = buildRelay(cfgB(), { logger: testLogger('shore') });
  await relays.B.start();
  t.teardown(async () => {
    await relays.B?.stop();
    await relays.A?.stop();
  });
  const sA = relays.A.s2s.addresses[0];
  const sB = relays.B.s2s.addresses[0];
  const { a, b, alice, bob } = await prosodyPair(t, { pA, pB, s2sTls, relayA: { host: sA.host, port: sA.port }, relayB: { host: sB.host, port: sB.port }, moreDomainsA: ['c.example'] });
  const world: World = {
    get relayA() { return relays.A!; },
    get relayB() { return relays.B!; },
    a, b, alice, bob,
    // Stops a relay and starts a new one on the same site file and data_dir (same S2S port).
    async restart(side) {
      const old = relays[side]!;
      const port = old.s2s.addresses[0].port;
      await old.stop();
      const yaml = (side === 'A' ? yamlA : yamlB).replace(/listen: \["(127\.0\.0\.\d):0"\]/, `listen: ["$1:${port}"]`);
      const fresh = buildRelay(parseSiteConfig(yaml, join(dir, side === 'A' ? 'ship.yaml' : 'shore.yaml')), { logger: testLogger(side) });
      await fresh.start();
      relays[side] = fresh;
    },
  };
  return world;
}

function testLogger(site: string) {
  // Quiet by default; SATRELAY_TEST_LOG=debug shows the relays' logs.
  return createLogger({ level: process.env.SATRELAY_TEST_LOG ?? 'silent', name: site, pretty: false, destination: 2 });
}
import { freeUdpPort } from '../helpers/ports.ts';

const msgFrom = (from: string, prefix: string) => (e: ClientEvent): boolean =>
  e.event === 'message' && bare(e.from) === from && typeof e.body === 'string' && e.body.startsWith(prefix);

async function exchange(t: ExecutionContext, w: World, tag: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    w.alice.sendMessage('bob@b.example', `${tag}-a2b-${i}`, { id: `${tag}-a2b-${i}` });
    w.bob.sendMessage('alice@a.example', `${tag}-b2a-${i}`, { id: `${tag}-b2a-${i}` });
  }
  const atBob = await w.bob.waitForCount(msgFrom('alice@a.example', `${tag}-a2b-`), n, 30_000);
  const atAlice = await w.alice.waitForCount(msgFrom('bob@b.example', `${tag}-b2a-`), n, 30_000);
  await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show up here
  const want = (dir: string) => Array.from({ length: n }, (_, i) => `${tag}-${dir}-${i + 1}`);
  t.deepEqual(w.bob.received.filter(msgFrom('alice@a.example', `${tag}-a2b-`)).map((e) => e.body), want('a2b'), 'a->b in order, once');
  t.deepEqual(w.alice.received.filter(msgFrom('bob@b.example', `${tag}-b2a-`)).map((e) => e.body), want('b2a'), 'b->a in order, once');
  t.is(atBob[0].to, 'bob@b.example');
  t.is(atAlice[0].id, `${tag}-b2a-1`);
}

const CASES: Array<[LinkMode, 'required' | 'off']> = [['xep0361', 'required'], ['xep0361', 'off'], ['udp', 'required'], ['serial', 'off']];
for (const [mode, s2sTls] of CASES) {
  run(`Prosody to Prosody through a relay pair over ${mode}: messages, presence, disco (S2S TLS ${s2sTls})`, async (t) => {
    const w = await startWorld(t, s2sTls, mode);
    await exchange(t, w, 'm', 25);

    await subscribeBoth(w.alice, w.bob, 30_000);
    w.bob.sendPresence({ show: 'away', status: 'on watch' });
    const p = await w.alice.waitFor((e) => e.event === 'presence' && bare(e.from) === 'bob@b.example' && e.show === 'away', 20_000);
    t.is(p.status, 'on watch');

    const info = await w.alice.discoInfo('b.example', 20_000);
    t.true(info.ok, `disco#info to b.example: ${info.error ?? ''}`);
    t.true(info.features.includes('http://jabber.org/protocol/disco#info'));
    t.true(info.identities.some((i) => i.category === 'server'));
    const back = await w.bob.discoInfo('a.example', 20_000);
    t.true(back.ok);

    // The relays' S2S sessions really used TLS when required.
    const sessions = w.relayA.s2s.sessions();
    t.true(sessions.length >= 2, 'both directions have sessions');
    t.true(sessions.every((s) => s.tls === (s2sTls === 'required')), JSON.stringify(sessions));
  });
}

run('the link restarted mid-way loses and duplicates nothing', async (t) => {
  const w = await startWorld(t, 'off');
  await exchange(t, w, 'before', 10);
  const linkA = w.relayA.links[0] as Xep0361Link;
  const linkB = w.relayB.links[0] as Xep0361Link;
  for (let i = 1; i <= 15; i++) {
    w.alice.sendMessage('bob@b.example', `during-a2b-${i}`, { id: `during-a2b-${i}` });
    w.bob.sendMessage('alice@a.example', `during-b2a-${i}`, { id: `during-b2a-${i}` });
    if (i === 5) linkA.restartConnection();
    if (i === 10) linkB.restartConnection();
    await new Promise((r) => setTimeout(r, 20));
  }
  await w.bob.waitForCount(msgFrom('alice@a.example', 'during-a2b-'), 15, 30_000);
  await w.alice.waitForCount(msgFrom('bob@b.example', 'during-b2a-'), 15, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const got = (c: XmppClient, from: string, p: string) => c.received.filter(msgFrom(from, p)).map((e) => e.body);
  t.deepEqual(got(w.bob, 'alice@a.example', 'during-a2b-'), Array.from({ length: 15 }, (_, i) => `during-a2b-${i + 1}`));
  t.deepEqual(got(w.alice, 'bob@b.example', 'during-b2a-'), Array.from({ length: 15 }, (_, i) => `during-b2a-${i + 1}`));
  t.true(w.relayA.metrics.get('link_connects_total') >= 2, 'the link connection was really restarted');
  await exchange(t, w, 'after', 5);
});

run('errors come back to the sender: from the far server, and for a domain no link serves', async (t) => {
  const w = await startWorld(t, 'off');
  // The far Prosody refuses an unknown user; its error crosses both relays back to alice.
  w.alice.sendMessage('nobody@b.example', 'hello?', { id: 'lost-1' });
  const err = await w.alice.waitFor((e) => e.event === 'message' && e.type === 'error' && e.id === 'lost-1', 20_000);
  t.is((err.error as { condition: string }).condition, 'service-unavailable');
  // c.example is routed to the relay, but no link serves it: the relay refuses the stream
  // with host-unknown (RFC 6120 §4.9.3.6) and Prosody bounces the message to alice.
  w.alice.sendMessage('carol@c.example', 'hello?', { id: 'lost-2' });
  const err2 = await w.alice.waitFor((e) => e.event === 'message' && e.type === 'error' && e.id === 'lost-2', 20_000);
  t.true(['remote-server-not-found', 'remote-server-timeout'].includes((err2.error as { condition: string }).condition));
  t.true(w.relayA.metrics.get('s2s_stream_errors_total', { condition: 'host-unknown' }) >= 1, 'the relay refused the stream to c.example');
});

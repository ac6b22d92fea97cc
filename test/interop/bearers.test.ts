/**
 * Two real Prosody servers federating through a relay pair whose link runs
 * over two bearers (links[].bearers), each a real UDP emulator:
 *   Prosody a.example <-S2S-> relay ship ~starlink-maritime (primary)~ relay shore <-S2S-> Prosody b.example
 *                                        ~bgan-64k (backup)~
 * The primary is cut while messages flow both ways: the link fails over, every
 * message arrives once and in order; the primary returns and the link fails back.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyText, parseSiteConfig, loadProfile } from '../../src/config/index.ts';
import { startUdpEmulator, type UdpEmulatorHandle } from '../../src/emulator/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay } from '../../src/relay/relay.ts';
import { createLogger } from '../../src/obs/log.ts';
import { prosodyAvailable, freePort } from '../helpers/prosody.ts';
import { bare, type ClientEvent } from '../helpers/xmpp-client.ts';
import { prosodyPair, pairSiteYaml } from './prosody-pair.ts';
import { freeUdpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';

const run = prosodyAvailable() || process.env.CI ? test.serial : test.skip;
const PROFILES = ['starlink-maritime', 'bgan-64k'];

const msgFrom = (from: string, prefix: string) => (e: ClientEvent): boolean =>
  e.event === 'message' && bare(e.from) === from && typeof e.body === 'string' && e.body.startsWith(prefix);

/** The link's keys: both bearers, each bound to `binds` and sending to `peers` (the emulators). */
function bearersLink(key: string, binds: number[], peers: number[]): string {
  return `    key_file: ${key}
    failback_hold_s: 3
    bearers:
${PROFILES.map((p, i) => `      - { profile: ${p}, transport: udp, bind: "127.0.0.1:${binds[i]}", peer: "127.0.0.1:${peers[i]}" }`).join('\n')}`;
}

run('Prosody to Prosody over two bearers: the primary cut mid-flow, failover and failback, every message once and in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-interop-bearers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = join(dir, 'link.key');
  writeFileSync(key, generateKeyText(), { mode: 0o600 });
  const ports = { a: [await freeUdpPort(), await freeUdpPort()], b: [await freeUdpPort(), await freeUdpPort()] };
  const emus: UdpEmulatorHandle[] = [];
  for (const [i, p] of PROFILES.entries()) {
    // The profile's bearer without its scheduled outages and loss: the test places the cut.
    const params = { ...loadProfile(p).bearer, outages: [], loss: undefined };
    const emu = await startUdpEmulator({ params, seed: 7 + i, a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ports.a[i]}` }, b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ports.b[i]}` } });
    t.teardown(() => emu.close());
    emus.push(emu);
  }
  const [pA, pB] = [await freePort('127.0.0.2'), await freePort('127.0.0.3')];
  const logger = (name: string) => createLogger({ level: process.env.SATRELAY_TEST_LOG ?? 'silent', name, pretty: false, destination: 2 });
  const relays: Relay[] = [];
  for (const side of ['a', 'b'] as const) {
    const ship = side === 'a';
    const yaml = pairSiteYaml({
      site: ship ? 'ship' : 'shore', dir: join(dir, side), listen: ship ? '127.0.0.4:0' : '127.0.0.5:0', route: ship ? `127.0.0.2:${pA}` : `127.0.0.3:${pB}`, tlsRequire: false,
      link: bearersLink(key, ports[side], emus.map((e) => e.addresses[side].port)),
    });
    const relay = buildRelay(parseSiteConfig(yaml, join(dir, `${side}.yaml`)), { logger: logger(side) });
    await relay.start();
    t.teardown(() => relay.stop());
    relays.push(relay);
  }
  const [relayA, relayB] = relays;
  const sA = relayA.s2s.addresses[0];
  const sB = relayB.s2s.addresses[0];
  const { alice, bob } = await prosodyPair(t, { pA, pB, s2sTls: 'off', relayA: { host: sA.host, port: sA.port }, relayB: { host: sB.host, port: sB.port } });

  const sent = { a2b: [] as string[], b2a: [] as string[] };
  const send = (tag: string, i: number): void => {
    alice.sendMessage('bob@b.example', `${tag}-a2b-${i}`, { id: `${tag}-a2b-${i}` });
    bob.sendMessage('alice@a.example', `${tag}-b2a-${i}`, { id: `${tag}-b2a-${i}` });
    sent.a2b.push(`${tag}-a2b-${i}`);
    sent.b2a.push(`${tag}-b2a-${i}`);
  };
  const arrived = async (): Promise<void> => {
    await bob.waitForCount(msgFrom('alice@a.example', ''), sent.a2b.length, 60_000);
    await alice.waitForCount(msgFrom('bob@b.example', ''), sent.b2a.length, 60_000);
  };
  const bearer = (r: Relay) => r.status().links[0].bearers!;

  for (let i = 1; i <= 5; i++) send('before', i);
  await arrived();
  t.true(bearer(relayA)[0].current);

  // The primary goes dark both ways while messages flow; it comes back 12 s later.
  for (let i = 1; i <= 20; i++) {
    if (i === 5) emus[0].control.outage(12_000);
    send('during', i);
    await new Promise((r) => setTimeout(r, 100));
  }
  await arrived();
  t.true(relayA.metrics.get('link_bearer_failovers_total', { link: 'shore', bearer: '2:bgan-64k' }) >= 1, 'the ship failed over');
  // Back on the primary once it has been up for failback_hold_s (3 s).
  await until(() => relayA.metrics.get('link_bearer_failbacks_total', { link: 'shore', bearer: '1:starlink-maritime' }) >= 1, 'the ship fails back', 60_000);
  for (let i = 1; i <= 5; i++) send('after', i);
  await arrived();
  await new Promise((r) => setTimeout(r, 500)); // a late duplicate would show up here

  t.deepEqual(bob.received.filter(msgFrom('alice@a.example', '')).map((e) => e.body), sent.a2b, 'a->b once each, in order');
  t.deepEqual(alice.received.filter(msgFrom('bob@b.example', '')).map((e) => e.body), sent.b2a, 'b->a once each, in order');
  const [primary, backup] = bearer(relayA);
  t.true(primary.current && primary.up, JSON.stringify(primary));
  t.true(backup.bytesSent > 0 && backup.bytesReceived > 0, 'the backup carried traffic');
});

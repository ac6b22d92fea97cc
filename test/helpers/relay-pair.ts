/**
 * A running relay pair on loopback for tests of what an operator looks at
 * (status page, /metrics): two relays built from site files, a UDP link
 * between them (profile lan), metrics listeners on free ports, and the
 * bench's built-in S2S servers as the local XMPP servers of each side
 * (a.example at the ship, b.example at shore).
 *
 *   const pair = await startRelayPair();
 *   t.teardown(() => pair.stop());
 *   await pair.message('a', 'hello');            // a.example -> b.example, resolves on delivery
 *   const html = await (await fetch(pair.url('a', '/'))).text();
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOMAINS, siteYaml, startPeer, worldWithCleanup, type World } from '../../src/sim/index.ts';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay } from '../../src/relay/relay.ts';
import { x } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from './ports.ts';

type Side = 'a' | 'b';

export interface RelayPair {
  world: World;
  relays: Record<Side, Relay>;
  url(side: Side, path: string): string;
  /** Sends a chat message from `side`'s server to the other side; resolves once it arrived. */
  message(from: Side, body: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startRelayPair(): Promise<RelayPair> {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-pair-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, true);
  const waiting = new Map<string, () => void>();
  world.onStanza = (_side, el) => waiting.get(el.attr('id') ?? '')?.();
  try {
    const keyFile = join(dir, 'link.key');
    writeFileSync(keyFile, generateKeyText(), { mode: 0o600 });
    const peerMetrics = new Metrics();
    const peers = { a: await startPeer(world, 'a', dir, peerMetrics), b: await startPeer(world, 'b', dir, peerMetrics) };
    cleanup.push(() => peers.a.stop(), () => peers.b.stop());
    world.peers = peers;
    const udp = { a: await freeUdpPort(), b: await freeUdpPort() };
    const http = { a: await freeTcpPort(), b: await freeTcpPort() };
    const relays = {} as Record<Side, Relay>;
    for (const side of ['a', 'b'] as const) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const site = side === 'a' ? 'ship' : 'shore';
      const peer = peers[side].addresses[0];
      const yaml = siteYaml({
        site, dir: join(dir, site), local: DOMAINS[side], remote: DOMAINS[other], peerAddr: `${peer.host}:${peer.port}`, profile: 'lan',
        bind: `127.0.0.1:${udp[side]}`, emu: `127.0.0.1:${udp[other]}`, key: keyFile, metrics: `127.0.0.1:${http[side]}`,
      });
      const relay = buildRelay(parseSiteConfig(yaml, join(dir, `${site}.yaml`)), {});
      await relay.start();
      cleanup.push(() => relay.stop());
      relays[side] = relay;
    }
    for (const side of ['a', 'b'] as const) {
      const r = relays[side].s2s.addresses[0];
      for (const d of DOMAINS[side === 'a' ? 'b' : 'a']) peers[side].setRoute(d, `${r.host}:${r.port}`);
    }
    let n = 0;
    return {
      world,
      relays,
      url: (side, path) => `http://127.0.0.1:${relays[side].obsPort}${path}`,
      message: (from, body) => {
        const id = `m${++n}`;
        const el = x('message', { from: `alice@${DOMAINS[from][0]}/phone`, to: `bob@${DOMAINS[from === 'a' ? 'b' : 'a'][0]}`, id, type: 'chat' }, x('body', {}, body));
        return new Promise<void>((resolve) => {
          waiting.set(id, resolve);
          world.send(from, el);
        });
      },
      stop: () => world.stop(),
    };
  } catch (err) {
    await world.stop();
    throw err;
  }
}

/**
 * Simulated sites for the demo, the benchmark, the soak and the interop
 * tests: two XMPP servers (S2SService peers for a.example and b.example) and,
 * between them, a relay pair over the bundled UDP emulator, all on
 * 127.0.0.1 in real time; only the bearer is emulated.
 *
 *   peer a.example <-S2S/TLS-> relay A ~UDP emulator~ relay B <-S2S/TLS-> peer b.example
 *
 * A World is what a driver (measure.ts, the demo, the soak) sees of such a
 * pair: send a stanza at one side, hear what each side's server receives.
 * baseline.ts builds the same two peers federating directly instead.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S2SService } from '../s2s/index.ts';
import { CertStore } from '../s2s/tls/index.ts';
import { parseSiteConfig, generateKeyText } from '../config/index.ts';
import { buildRelay } from '../relay/from-config.ts';
import type { Relay } from '../relay/relay.ts';
import { loadBearerParams, startUdpEmulator, type BearerParams, type DirStats, type EmulatorControl, type UdpEmulatorHandle } from '../emulator/index.ts';
import type { XmlElement } from '../xml/element.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import { optimizeYaml } from './optimize-choice.ts';
import { freeUdpPort } from './ports.ts';
import type { Side } from './workloads.ts';
import type { RelayUsage } from './relay-process.ts';

export class BenchError extends Error {
  constructor(
    readonly code: 'BENCH_BAD_ARGS' | 'BENCH_UNSUPPORTED' | 'BENCH_SETUP_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'BenchError';
  }
}

// ------------------------------------------------------------------------- worlds

export const DOMAINS = { a: ['a.example', 'muc.a.example'], b: ['b.example'] } as const;

/** A running pair of sites connected over an emulated bearer. */
export interface World {
  /** 'relay', 'baseline', or a caller's own baseline ('prosody', bench/prosody.ts). */
  kind: string;
  peers: Record<Side, S2SService>;
  /** Injects a stanza at a site's server (the peer's S2S deliver, or a client of a real server). */
  send: (side: Side, el: XmlElement) => void;
  /** Every stanza a peer's server receives (the peer is the destination server). */
  onStanza: (side: Side, el: XmlElement) => void;
  /** A stanza a peer could not deliver. */
  onUndeliverable: (side: Side, el: XmlElement, condition: string) => void;
  emulatorStats(): { ab: DirStats; ba: DirStats };
  emulatorSummary(): string;
  /** Runtime faults on the emulated bearer (absent for the Prosody baseline). */
  control?: EmulatorControl;
  relays?: Record<Side, Relay>;
  /** Relays as processes (world-procs.ts): each one's own CPU time, peak RSS and link counters. */
  usage?: () => Promise<Record<Side, RelayUsage>>;
  dir: string;
  stop(): Promise<void>;
}


/** A site's XMPP server (an S2SService), listening on `listen` (default any port; the soak restarts one on its old port). */
export async function startPeer(world: World, side: Side, dir: string, metrics: Metrics, listen = '127.0.0.1:0'): Promise<S2SService> {
  const other: Side = side === 'a' ? 'b' : 'a';
  const served = new Set<string>(DOMAINS[side]);
  const svc = new S2SService({
    listen: [listen],
    localDomains: [...DOMAINS[other]],
    servedDomains: (d) => served.has(d),
    routes: {},
    tls: { certs: new CertStore({ dir: join(dir, `peer-${side}-certs`) }), require: true },
    secret: randomBytes(32),
    maxStanzaBytes: 256 * 1024,
    // Plain S2S over 1200 bit/s needs minutes to authenticate; never let a timeout end the run.
    timeouts: { connectMs: 900_000, authMs: 900_000, idleMs: 3_600_000, queueMs: 3_600_000 },
    queueLimit: 1_000_000,
    metrics,
    onStanza: (el) => world.onStanza(side, el),
    onUndeliverable: (el, err) => world.onUndeliverable(side, el, err.condition),
  });
  await svc.start();
  return svc;
}

export function bareWorld(kind: World['kind'], dir: string): World {
  return {
    kind,
    dir,
    peers: undefined as unknown as Record<Side, S2SService>,
    send(side, el) {
      this.peers[side].deliver(el);
    },
    onStanza: () => {},
    onUndeliverable: () => {},
    emulatorStats: () => ({ ab: undefined as unknown as DirStats, ba: undefined as unknown as DirStats }),
    emulatorSummary: () => '',
    stop: async () => {},
  };
}

/**
 * A world whose stop() runs the cleanups pushed onto the returned list in
 * reverse, carrying on past failures, then removes `dir` when the world owns it.
 */
export function worldWithCleanup(kind: World['kind'], dir: string, ownsDir: boolean): { world: World; cleanup: Array<() => Promise<void> | void> } {
  const world = bareWorld(kind, dir);
  const cleanup: Array<() => Promise<void> | void> = [];
  world.stop = async () => {
    for (const f of cleanup.reverse()) {
      try {
        await f();
      } catch {
        // keep stopping the rest
      }
    }
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
  };
  return { world, cleanup };
}

/**
 * A relay site's yaml. `listen` (S2S, default any port), `metrics` (default
 * none), `linkExtra` (more keys of the link, indented) and `extra` (appended
 * top-level yaml) serve the soak, which runs relays as processes on fixed ports.
 */
export function siteYaml(o: { site: string; dir: string; local: readonly string[]; remote: readonly string[]; peerAddr: string; profile: string; bind: string; emu?: string; key: string; optimize?: string; listen?: string; metrics?: string; linkExtra?: string; extra?: string; deliveryWindow?: number }): string {
  const routes = o.local.map((d) => `${d}: "${o.peerAddr}"`).join(', ');
  return `site: ${o.site}
data_dir: ${o.dir}
local:
  domains: [${o.local.join(', ')}]
  listen: ["${o.listen ?? '127.0.0.1:0'}"]
  routes: { ${routes} }
  tls: { require: true }
${o.deliveryWindow === undefined ? '' : `  delivery_window: ${o.deliveryWindow}\n`}links:
  - name: ${o.site === 'ship' ? 'shore' : 'ship'}
    domains: [${o.remote.join(', ')}]
    profile: ${JSON.stringify(o.profile)}
    transport: udp
    bind: "${o.bind}"
${o.emu === undefined ? '' : `    peer: "${o.emu}"\n`}    key_file: ${o.key}
${o.linkExtra ?? ''}metrics: { listen: ${o.metrics ? `"${o.metrics}"` : 'null'} }
${optimizeYaml(o.optimize)}${o.extra ?? ''}`;
}

/**
 * What every relay pair world has around its relays: the link key, both
 * peers, and the UDP emulator forwarding to the relays' link ports `udp`.
 */
export async function startSites(world: World, cleanup: Array<() => Promise<void> | void>, o: { seed: number; params: BearerParams; udp: Record<Side, number> }): Promise<{ keyFile: string; emu: UdpEmulatorHandle }> {
  const keyFile = join(world.dir, 'link.key');
  writeFileSync(keyFile, generateKeyText(), { mode: 0o600 });
  const metrics = new Metrics();
  const pa = await startPeer(world, 'a', world.dir, metrics);
  cleanup.push(() => pa.stop());
  const pb = await startPeer(world, 'b', world.dir, metrics);
  cleanup.push(() => pb.stop());
  world.peers = { a: pa, b: pb };
  const emu = await startUdpEmulator({
    params: o.params,
    seed: o.seed,
    a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${o.udp.a}` },
    b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${o.udp.b}` },
  });
  cleanup.push(() => emu.close());
  world.emulatorStats = () => emu.stats();
  world.emulatorSummary = () => emu.summary();
  world.control = emu.control;
  return { keyFile, emu };
}

/** Relay `side`'s site file in a pair world (a: ship, b: shore; its data_dir made): where it goes and its text. */
export function pairSite(world: World, side: Side, o: { profile: string; optimize?: string; udp: number; emu: number | undefined; key: string; listen?: string; linkExtra?: string; extra?: string; deliveryWindow?: number }): { site: string; file: string; yaml: string } {
  const other: Side = side === 'a' ? 'b' : 'a';
  const site = side === 'a' ? 'ship' : 'shore';
  mkdirSync(join(world.dir, site), { recursive: true });
  const peer = world.peers[side].addresses[0];
  const yaml = siteYaml({
    site,
    dir: join(world.dir, site),
    local: DOMAINS[side],
    remote: DOMAINS[other],
    peerAddr: `${peer.host}:${peer.port}`,
    profile: o.profile,
    bind: `127.0.0.1:${o.udp}`,
    emu: o.emu === undefined ? undefined : `127.0.0.1:${o.emu}`,
    key: o.key,
    optimize: o.optimize,
    listen: o.listen,
    linkExtra: o.linkExtra,
    extra: o.extra,
    deliveryWindow: o.deliveryWindow,
  });
  return { site, file: join(world.dir, `${site}.yaml`), yaml };
}

/** Relay pair world: peers, relays, the UDP emulator between the relays. */
export async function startRelayWorld(o: { profile: string; seed: number; relayLog?: Logger; dir?: string; tmpDir?: string; params?: BearerParams; optimize?: string }): Promise<World> {
  const dir = o.dir ?? mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-relay-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, !o.dir);
  try {
    const params = o.params ?? loadBearerParams(o.profile);
    const [ua, ub] = [await freeUdpPort(), await freeUdpPort()];
    const { keyFile, emu } = await startSites(world, cleanup, { seed: o.seed, params, udp: { a: ua, b: ub } });
    const relays = {} as Record<Side, Relay>;
    for (const side of ['a', 'b'] as const) {
      // Behind a NAT the ship keeps peer; the shore has none and follows it (roaming).
      const { site, file, yaml } = pairSite(world, side, { profile: o.profile, optimize: o.optimize, udp: side === 'a' ? ua : ub, emu: params.nat && side === 'b' ? undefined : emu.addresses[side].port, key: keyFile });
      const cfg = parseSiteConfig(yaml, file);
      const relay = buildRelay(cfg, { logger: (o.relayLog ?? silentLogger).child({ site }) });
      await relay.start();
      cleanup.push(() => relay.stop());
      relays[side] = relay;
    }
    world.relays = relays;
    // Each peer routes the far domains to its own relay.
    for (const side of ['a', 'b'] as const) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const r = relays[side].s2s.addresses[0];
      for (const d of DOMAINS[other]) world.peers[side].setRoute(d, `${r.host}:${r.port}`);
    }
    return world;
  } catch (err) {
    await world.stop();
    throw new BenchError('BENCH_SETUP_FAILED', `relay pair setup: ${(err as Error).message}`);
  }
}

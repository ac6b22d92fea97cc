/**
 * The relay pair world of world.ts with each relay in its own process (as in
 * production: `satrelay run -c site.yaml`, relay-process.ts), so the OS
 * measures each relay's CPU and memory apart from the peers, the emulator and
 * the benchmark itself. The world's usage() asks both children.
 *
 *   peer a.example <-S2S/TLS-> [relay A process] ~UDP emulator~ [relay B process] <-S2S/TLS-> peer b.example
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBearerParams, type BearerParams } from '../emulator/index.ts';
import { BenchError, DOMAINS, pairSite, startSites, worldWithCleanup, type World } from './world.ts';
import { freeTcpPort, freeUdpPort } from './ports.ts';
import { RelayProcess, type RelayUsage } from './relay-process.ts';
import type { Side } from './workloads.ts';

export interface ProcessWorldOptions {
  profile: string;
  seed: number;
  tmpDir?: string;
  params?: BearerParams;
  optimize?: string;
  /** the relays' log level (their logs go to DIR/relay-A.log, relay-B.log); default warn. */
  logLevel?: string;
  /** extra node flags for both relay processes (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** more keys of each relay's link, and top-level yaml (bench --metered). */
  linkExtra?: string;
  extra?: string;
  /** both relays' local.delivery_window (absent: the default). */
  deliveryWindow?: number;
}

/** Relay pair world with the relays as child processes; world.usage() reports each one's CPU, RSS and link counters. */
export async function startRelayProcessWorld(o: ProcessWorldOptions): Promise<World> {
  const dir = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-relay-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, true);
  try {
    const params = o.params ?? loadBearerParams(o.profile);
    const udp = { a: await freeUdpPort(), b: await freeUdpPort() };
    const s2s = { a: await freeTcpPort(), b: await freeTcpPort() };
    const { keyFile, emu } = await startSites(world, cleanup, { seed: o.seed, params, udp });
    const files = {} as Record<Side, string>;
    for (const side of ['a', 'b'] as const) {
      const { file, yaml } = pairSite(world, side, { profile: o.profile, optimize: o.optimize, udp: udp[side], emu: params.nat && side === 'b' ? undefined : emu.addresses[side].port, key: keyFile, listen: `127.0.0.1:${s2s[side]}`, linkExtra: o.linkExtra, deliveryWindow: o.deliveryWindow, extra: `log: { level: ${o.logLevel ?? 'warn'} }\n${o.extra ?? ''}` });
      writeFileSync(file, yaml);
      files[side] = file;
    }
    await startRelayProcesses(world, cleanup, files, s2s, o.nodeArgs);
    return world;
  } catch (err) {
    await world.stop();
    throw new BenchError('BENCH_SETUP_FAILED', `relay pair setup: ${(err as Error).message}`);
  }
}

/**
 * Runs relay A and B from their site files as processes (logs in
 * world.dir/relay-A.log, relay-B.log), stopped by the world's cleanup;
 * world.usage() asks both; each peer routes the far domains to its relay.
 */
export async function startRelayProcesses(world: World, cleanup: Array<() => Promise<void> | void>, files: Record<Side, string>, s2s: Record<Side, number>, nodeArgs?: readonly string[]): Promise<void> {
  const procs = {} as Record<Side, RelayProcess>;
  const t0 = Date.now();
  for (const side of ['a', 'b'] as const) {
    const name = side === 'a' ? 'A' : 'B';
    procs[side] = new RelayProcess(name, files[side], join(world.dir, `relay-${name}.log`), undefined, () => Date.now() - t0, () => {}, { nodeArgs });
    // Graceful stop first: a --cpu-prof child writes its profile on exit.
    cleanup.push(async () => {
      await procs[side].stop();
      await procs[side].close();
    });
  }
  await Promise.all([procs.a.start(), procs.b.start()]);
  world.usage = async () => {
    const [a, b] = await Promise.all([procs.a.usage(), procs.b.usage()]);
    return { a, b };
  };
  for (const side of ['a', 'b'] as const) {
    const other: Side = side === 'a' ? 'b' : 'a';
    for (const d of DOMAINS[other]) world.peers[side].setRoute(d, `127.0.0.1:${s2s[side]}`);
  }
}

export type { RelayUsage };

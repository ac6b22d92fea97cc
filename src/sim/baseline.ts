/**
 * The built-in baseline: the same two S2SService peers as the relay pair,
 * federating directly, every S2S connection (both directions, dialback
 * back-connections included) crossing one TCP emulator: one bearer, the same
 * profile and seed as the relay pair's.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBearerParams, startTcpEmulator, type BearerParams } from '../emulator/index.ts';
import { Metrics } from '../obs/metrics.ts';
import { BenchError, DOMAINS, startPeer, worldWithCleanup, type World } from './world.ts';

/** Baseline world: the peers federate directly, every S2S connection crossing one TCP emulator (one bearer). */
export async function startBaselineWorld(o: { profile: string; seed: number; dir?: string; tmpDir?: string; params?: BearerParams }): Promise<World> {
  const dir = o.dir ?? mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-s2s-'));
  const { world, cleanup } = worldWithCleanup('baseline', dir, !o.dir);
  try {
    const params = streamParams(o.params ?? loadBearerParams(o.profile));
    const metrics = new Metrics();
    const pa = await startPeer(world, 'a', dir, metrics);
    cleanup.push(() => pa.stop());
    const pb = await startPeer(world, 'b', dir, metrics);
    cleanup.push(() => pb.stop());
    world.peers = { a: pa, b: pb };
    const [la, lb] = [pa.addresses[0], pb.addresses[0]];
    // 'ab' carries what a.example's server sends on connections it opened; the extra pair is b.example's.
    const emu = await startTcpEmulator({
      params,
      seed: o.seed,
      listen: '127.0.0.1:0',
      target: `${lb.host}:${lb.port}`,
      extra: [{ listen: '127.0.0.1:0', target: `${la.host}:${la.port}`, reverse: true }],
      noDelay: true,
    });
    cleanup.push(() => emu.close());
    world.emulatorStats = () => emu.stats();
    world.emulatorSummary = () => emu.summary();
    world.control = emu.control;
    for (const d of DOMAINS.b) pa.setRoute(d, `127.0.0.1:${emu.addresses[0].port}`);
    for (const d of DOMAINS.a) pb.setRoute(d, `127.0.0.1:${emu.addresses[1].port}`);
    return world;
  } catch (err) {
    await world.stop();
    throw new BenchError('BENCH_SETUP_FAILED', `baseline setup: ${(err as Error).message}`);
  }
}

/**
 * The emulator's stream mode carries TCP bytes losslessly; bit errors on a
 * stream would corrupt TLS records, which real TCP (checksums, retransmission)
 * never lets through. So the baseline bearer keeps rate, delay, jitter,
 * duplex, outages and drops `ber`.
 */
export function streamParams(p: BearerParams): BearerParams {
  const { ber: _ber, ...rest } = p;
  return rest;
}

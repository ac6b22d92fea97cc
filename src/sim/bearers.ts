/**
 * `satrelay bench --bearers P1,P2 [--outage-bearer INDEX:START_S:DURATION_S]`:
 * a relay pair whose link runs over several bearers (links[].bearers), one
 * UDP emulator per bearer, each relay in its own process; bearer INDEX
 * (1 = the primary) goes dark both ways START_S after the burst starts.
 *
 *   peer a <-S2S-> [relay A] ~bearer 1 emulator (P1)~ [relay B] <-S2S-> peer b
 *                            ~bearer 2 emulator (P2)~
 *
 * The ship (A) has a peer on each bearer; the shore (B) has none and learns
 * the ship's address on each bearer from its frames (roaming).
 *
 * Figures besides the usual ones (measure.ts):
 *   failover_ms   the bearer cut -> the first stanza delivered after the ship's
 *                 failover: it crossed another bearer (stanzas already in the cut
 *                 bearer's delay line arrive after the cut too, and do not count)
 *   failback_ms   the bearer back -> the ship relay fails back to it (its log
 *                 line; its traffic goes there from then on)
 *   bearers[]     bytes each bearer's emulator was offered, both ways
 *   switches      failovers and failbacks each relay logged
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBearerParams, startUdpEmulator, type DirStats, type UdpEmulatorHandle } from '../emulator/index.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { BenchError, pairSite, startSites, worldWithCleanup, type World } from './world.ts';
import { freeTcpPort, freeUdpPort } from './ports.ts';
import { startRelayProcesses } from './world-procs.ts';
import { measure, round, type Figures } from './measure.ts';
import { makeWorkload, type Side } from './workloads.ts';

export interface BearerOutageSpec { index: number; startS: number; durationS: number }

/** "P1,P2[,...]": two or more profiles, primary first. */
export function parseBearersArg(v: string): string[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length < 2) throw new Error(`--bearers: expected two or more profiles, primary first (e.g. starlink-maritime,iridium-2400), got "${v}"`);
  return list;
}

/** "INDEX:START_S:DURATION_S", INDEX from 1 (the primary) to `count`. */
export function parseOutageBearerArg(v: string, count: number): BearerOutageSpec {
  const m = /^(\d+):(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(v);
  const index = m ? Number(m[1]) : 0;
  if (!m || index < 1 || index > count || !(Number(m[3]) > 0)) {
    throw new Error(`--outage-bearer: expected INDEX:START_S:DURATION_S with INDEX 1 (the primary) to ${count} and DURATION_S > 0, got "${v}"`);
  }
  return { index, startS: Number(m[2]), durationS: Number(m[3]) };
}

export interface BearersBenchResult extends Figures {
  bearers_profiles: string[];
  workload: string;
  seed: number;
  outage_bearer: BearerOutageSpec;
  failover_ms: number | null;
  failback_ms: number | null;
  bearers: Array<{ index: number; profile: string; bytes: number }>;
  switches: Record<'ship' | 'shore', { failovers: number; failbacks: number }>;
  notes: string[];
  started_at: string;
  duration_s: number;
}

function sumStats(a: DirStats, b: DirStats): DirStats {
  const out = { ...a } as Record<string, number>;
  for (const [k, v] of Object.entries(b)) if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  return out as unknown as DirStats;
}

/** The link block of a pair site over bearers: one udp bearer per emulator; without `emu` (the shore) no peer: it learns the ship's address on each bearer. */
function bearersBlock(profiles: readonly string[], udp: readonly number[], emu?: readonly number[]): string {
  return `    bearers:\n${profiles.map((p, i) => `      - { profile: ${JSON.stringify(p)}, transport: udp, bind: "127.0.0.1:${udp[i]}"${emu ? `, peer: "127.0.0.1:${emu[i]}"` : ''} }\n`).join('')}`;
}

interface BearersWorld { world: World; emus: UdpEmulatorHandle[]; dir: string; cutAt?: number; arrivals: number[] }

async function startBearersWorld(o: { profiles: string[]; seed: number; tmpDir?: string; logLevel?: string; outageIndex: number }): Promise<BearersWorld> {
  const dir = mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-bearers-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, true);
  const bw: BearersWorld = { world, emus: [], dir, arrivals: [] };
  try {
    const params = o.profiles.map((p) => loadBearerParams(p));
    const udp = { a: [] as number[], b: [] as number[] };
    for (let i = 0; i < o.profiles.length; i++) for (const s of ['a', 'b'] as const) udp[s].push(await freeUdpPort());
    const s2s = { a: await freeTcpPort(), b: await freeTcpPort() };
    const { keyFile, emu } = await startSites(world, cleanup, { seed: o.seed, params: params[0], udp: { a: udp.a[0], b: udp.b[0] } });
    bw.emus.push(emu);
    for (let i = 1; i < params.length; i++) {
      const e = await startUdpEmulator({ params: params[i], seed: o.seed + i, a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${udp.a[i]}` }, b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${udp.b[i]}` } });
      cleanup.push(() => e.close());
      bw.emus.push(e);
    }
    world.emulatorStats = () => bw.emus.map((e) => e.stats()).reduce((x, y) => ({ ab: sumStats(x.ab, y.ab), ba: sumStats(x.ba, y.ba) }));
    world.emulatorSummary = () => bw.emus.map((e, i) => `bearer ${i + 1}: ${e.summary()}`).join('\n');
    // The outage goes to one bearer; its time is kept for failover_ms.
    const target = bw.emus[o.outageIndex - 1].control;
    world.control = { ...target, outage: (ms) => { bw.cutAt = Date.now(); target.outage(ms); } };
    // Every delivery's time (measure installs its own onStanza: wrap whatever it sets).
    let onStanza = world.onStanza;
    Object.defineProperty(world, 'onStanza', {
      get: () => (side: Side, el: Parameters<World['onStanza']>[1]) => { bw.arrivals.push(Date.now()); onStanza(side, el); },
      set: (f: World['onStanza']) => { onStanza = f; },
    });
    const files = {} as Record<Side, string>;
    for (const side of ['a', 'b'] as const) {
      const site = pairSite(world, side, { profile: o.profiles[0], udp: udp[side][0], emu: emu.addresses[side].port, key: keyFile, listen: `127.0.0.1:${s2s[side]}`, extra: `log: { level: ${o.logLevel ?? 'warn'} }\n` });
      const yaml = site.yaml.replace(/ {4}profile: .*\n {4}transport: udp\n {4}bind: .*\n {4}peer: .*\n/, bearersBlock(o.profiles, udp[side], side === 'a' ? bw.emus.map((e) => e.addresses[side].port) : undefined));
      writeFileSync(site.file, yaml);
      files[side] = site.file;
    }
    await startRelayProcesses(world, cleanup, files, s2s);
    return bw;
  } catch (err) {
    await world.stop();
    throw new BenchError('BENCH_SETUP_FAILED', `relay pair over bearers: ${(err as Error).message}`);
  }
}

/** The failover and failback lines a relay logged (pino JSON: time in ms since the epoch). */
function switchLines(file: string): Array<{ kind: string; time: number }> {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: Array<{ kind: string; time: number }> = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"kind":"fail')) continue;
    try {
      const j = JSON.parse(line) as { kind?: string; time?: number; msg?: string };
      if ((j.kind === 'failover' || j.kind === 'failback') && typeof j.time === 'number') out.push({ kind: j.kind, time: j.time });
    } catch {
      // not one of ours
    }
  }
  return out;
}

export interface BearersBenchOptions {
  profiles: string[];
  workload: string;
  stanzas?: number;
  seed?: number;
  outage: BearerOutageSpec;
  log?: Logger;
  relayLogLevel?: string;
  patience?: number;
  tmpDir?: string;
}

export async function runBearersBench(o: BearersBenchOptions): Promise<BearersBenchResult> {
  const log = o.log ?? silentLogger;
  const seed = o.seed ?? 1;
  const started = new Date();
  const stanzas = makeWorkload(o.workload, o.stanzas ?? 200, seed);
  log.info({ bearers: o.profiles, workload: o.workload, stanzas: stanzas.length, seed, outage: o.outage }, 'relay pair over bearers');
  // The relays log their failovers at warn (the default level keeps them).
  const bw = await startBearersWorld({ profiles: o.profiles, seed, tmpDir: o.tmpDir, logLevel: o.relayLogLevel, outageIndex: o.outage.index });
  const primary = loadBearerParams(o.profiles[0]);
  // Deadlines as for the slowest bearer: everything may have to cross it.
  const slowest = o.profiles.map((p) => loadBearerParams(p)).reduce((a, b) => (b.rate_bps < a.rate_bps ? b : a));
  let fig: Figures;
  let ship: Array<{ kind: string; time: number }>;
  let shore: Array<{ kind: string; time: number }>;
  let bytes: number[];
  try {
    fig = await measure(bw.world, stanzas, { ...slowest, delay_ms: Math.max(primary.delay_ms, slowest.delay_ms) }, { log, patience: o.patience, outage: { startS: o.outage.startS, durationS: o.outage.durationS } });
    // Failback comes failback_hold_s after the bearer's return: wait for it (or a minute) before reading the logs.
    const restoredAt = (bw.cutAt ?? Date.now()) + o.outage.durationS * 1000;
    const failedBack = (side: string) => switchLines(join(bw.dir, `relay-${side}.log`)).some((l) => l.kind === 'failback' && l.time >= restoredAt);
    for (let i = 0; i < 120 && !(failedBack('A') && failedBack('B')); i++) await new Promise((r) => setTimeout(r, 500));
    ship = switchLines(join(bw.dir, 'relay-A.log'));
    shore = switchLines(join(bw.dir, 'relay-B.log'));
    bytes = bw.emus.map((e) => e.stats().ab.bytes_sent + e.stats().ba.bytes_sent);
  } finally {
    await bw.world.stop();
  }
  const cutAt = bw.cutAt;
  const restoredAt = cutAt === undefined ? undefined : cutAt + o.outage.durationS * 1000;
  // Frames already inside the cut bearer's delay line still arrive after the cut: count from the ship's failover line.
  const failover = cutAt === undefined ? undefined : ship.find((l) => l.kind === 'failover' && l.time >= cutAt);
  const firstWhileDark = failover === undefined ? undefined : bw.arrivals.find((t) => t >= failover.time && t < restoredAt!);
  const failback = restoredAt === undefined ? undefined : ship.find((l) => l.kind === 'failback' && l.time >= restoredAt);
  const count = (ls: Array<{ kind: string }>) => ({ failovers: ls.filter((l) => l.kind === 'failover').length, failbacks: ls.filter((l) => l.kind === 'failback').length });
  return {
    ...fig,
    bearers_profiles: o.profiles,
    workload: o.workload,
    seed,
    outage_bearer: o.outage,
    failover_ms: firstWhileDark === undefined ? null : Math.round(firstWhileDark - cutAt!),
    failback_ms: failback === undefined ? null : Math.round(failback.time - restoredAt!),
    bearers: o.profiles.map((profile, i) => ({ index: i + 1, profile, bytes: bytes[i] })),
    switches: { ship: count(ship), shore: count(shore) },
    notes: [
      `bearer ${o.outage.index} (${o.profiles[o.outage.index - 1]}) is cut both ways ${o.outage.startS} s after the burst starts, for ${o.outage.durationS} s`,
      'failover_ms: the cut -> the first stanza delivered after the ship relay\'s failover line while that bearer is dark; failback_ms: its return -> the ship relay\'s failback log line',
      'bearer bytes are what the endpoints offered to each emulator, both ways',
    ],
    started_at: started.toISOString(),
    duration_s: round((Date.now() - started.getTime()) / 1000),
  };
}

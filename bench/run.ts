/**
 * One benchmark run: a workload through the relay pair, then through plain
 * S2S (the baseline), over the same emulated bearer (same profile, same
 * seed), in real time.
 *
 *   relay:    peer a.example <-S2S/TLS-> relay A ~UDP emulator~ relay B <-S2S/TLS-> peer b.example
 *   baseline: peer a.example <-S2S/TLS over a TCP emulator (both directions, one bearer)-> peer b.example
 *
 * The peers are S2SService instances playing each site's XMPP server; the
 * far peer answers iq get/set like a client would (workloads.replyFor).
 * The first stanza is injected alone with every connection cold
 * (first_stanza_ms); the rest go in one burst (goodput, utilisation, latency).
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { S2SService } from '../src/s2s/index.ts';
import { CertStore } from '../src/s2s/tls/index.ts';
import { parseSiteConfig, generateKeyText } from '../src/config/index.ts';
import { buildRelay } from '../src/relay/from-config.ts';
import type { Relay } from '../src/relay/relay.ts';
import type { ConstrainedLink } from '../src/link/constrained/link.ts';
import { loadBearerParams, startUdpEmulator, startTcpEmulator, type BearerParams, type DirStats, type EmulatorControl } from '../src/emulator/index.ts';
import type { XmlElement } from '../src/xml/element.ts';
import { silentLogger, type Logger } from '../src/obs/log.ts';
import { Metrics } from '../src/obs/metrics.ts';
import { optimizeYaml } from './optimize-choice.ts';
import { freeUdpPort } from './ports.ts';
import { makeWorkload, replyFor, type BenchStanza, type Side } from './workloads.ts';
import { OutageRun, type OutageFigures, type OutageSpec } from './outage.ts';
import { natFigures, withNat, type NatFigures } from './nat.ts';

export type BaselineKind = 'builtin' | 'prosody' | 'none';

export class BenchError extends Error {
  constructor(
    readonly code: 'BENCH_BAD_ARGS' | 'BENCH_UNSUPPORTED' | 'BENCH_SETUP_FAILED',
    message: string,
  ) {
    super(message);
    this.name = 'BenchError';
  }
}

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Figures of one path (relay pair or baseline). Times in ms, rates in bit/s, sizes in bytes. */
export interface Figures extends Partial<OutageFigures>, Partial<NatFigures> {
  stanzas: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reordered: number;
  /** tracked stanzas that came back as a stanza error (bounced). */
  errors: number;
  /** iq queries answered on the near side (relay caches) instead of crossing. */
  answered_near: number;
  /** iq answers the far side sent, and how many of them arrived. */
  responses: { sent: number; received: number };
  /** XML bytes of the workload stanzas (and of iq answers) that were delivered. */
  xml_bytes: number;
  /** bytes offered to the bearer, both directions, over the whole run (setup included). */
  link_bytes: number;
  link_bytes_ab: number;
  link_bytes_ba: number;
  /** relay: link protocol header bytes (both relays); baseline: null (not measurable in the stream). */
  header_bytes: number | null;
  bytes_per_stanza: number;
  /** delivered XML bits per second over the burst's transfer time. */
  goodput_bps: number;
  /** line busy time / transfer time on the busier direction (both when half duplex), during the burst. */
  link_utilization: number;
  latency_ms: Latency;
  /** from injecting the first stanza (all connections cold) to its arrival; null when it never arrived. */
  first_stanza_ms: number | null;
  /** from the burst's injection to its last arrival. */
  transfer_ms: number;
  emulator: { dropped: number; corrupted: number; duplicated: number; reordered: number };
  /** CPU time (user + system) of the whole bench process during the burst, ms: relays, peers and emulator share it. */
  cpu_ms?: number;
  /** relay only: link retransmits (frames), compression ratio of stanza bytes. */
  retransmits?: number;
  compression_ratio?: number;
}

export interface BenchResult extends Figures {
  profile: string;
  workload: string;
  seed: number;
  bearer: { rate_bps: number; delay_ms: number; loss: string; duplex: string };
  baseline_kind: BaselineKind;
  /** the relays' traffic optimizers: on, off, or the comma list left on (bench/optimize-choice.ts) */
  optimize: string;
  baseline: Figures | null;
  /** baseline / relay (first stanza, bytes per stanza) and relay / baseline (goodput); null without a baseline. */
  ratios: { first_stanza: number | null; bytes_per_stanza: number | null; goodput: number | null } | null;
  /** notes on how the figures were taken (emulator limits). */
  notes: string[];
  started_at: string;
  duration_s: number;
}

export interface BenchOptions {
  profile: string;
  workload: string;
  stanzas?: number;
  seed?: number;
  baseline?: BaselineKind;
  /** 'off': the relays run with presence coalescing, disco cache and fan-out folding switched off (default 'on'). */
  optimize?: string;
  /** progress lines (info). */
  log?: Logger;
  /** the relays' own logs (default silent). */
  relayLog?: Logger;
  /** Deadline multiplier (default 1). */
  patience?: number;
  /** Where the relays' data dirs (spool: fsync per commit) and certs go (default the OS temp dir). */
  tmpDir?: string;
  /** Cut the bearer both ways during the burst (bench/outage.ts). */
  outage?: OutageSpec;
  /** The ship behind a NAT that rebinds every this many seconds; the shore without peer (bench/nat.ts). */
  natRebindS?: number;
}

export const DEFAULT_STANZAS = 200;

// ------------------------------------------------------------------------- worlds

export const DOMAINS = { a: ['a.example', 'muc.a.example'], b: ['b.example'] } as const;

/** A running pair of sites connected over an emulated bearer. */
export interface World {
  kind: 'relay' | 'baseline' | 'prosody';
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
export function siteYaml(o: { site: string; dir: string; local: readonly string[]; remote: readonly string[]; peerAddr: string; profile: string; bind: string; emu?: string; key: string; optimize?: string; listen?: string; metrics?: string; linkExtra?: string; extra?: string }): string {
  const routes = o.local.map((d) => `${d}: "${o.peerAddr}"`).join(', ');
  return `site: ${o.site}
data_dir: ${o.dir}
local:
  domains: [${o.local.join(', ')}]
  listen: ["${o.listen ?? '127.0.0.1:0'}"]
  routes: { ${routes} }
  tls: { require: true }
links:
  - name: ${o.site === 'ship' ? 'shore' : 'ship'}
    domains: [${o.remote.join(', ')}]
    profile: ${JSON.stringify(o.profile)}
    transport: udp
    bind: "${o.bind}"
${o.emu === undefined ? '' : `    peer: "${o.emu}"\n`}    key_file: ${o.key}
${o.linkExtra ?? ''}metrics: { listen: ${o.metrics ? `"${o.metrics}"` : 'null'} }
${optimizeYaml(o.optimize)}${o.extra ?? ''}`;
}

/** Relay pair world: peers, relays, the UDP emulator between the relays. */
export async function startRelayWorld(o: { profile: string; seed: number; relayLog?: Logger; dir?: string; tmpDir?: string; params?: BearerParams; optimize?: string }): Promise<World> {
  const dir = o.dir ?? mkdtempSync(join(o.tmpDir ?? tmpdir(), 'satrelay-bench-relay-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, !o.dir);
  try {
    const params = o.params ?? loadBearerParams(o.profile);
    const metrics = new Metrics();
    const keyFile = join(dir, 'link.key');
    writeFileSync(keyFile, generateKeyText(), { mode: 0o600 });
    const pa = await startPeer(world, 'a', dir, metrics);
    cleanup.push(() => pa.stop());
    const pb = await startPeer(world, 'b', dir, metrics);
    cleanup.push(() => pb.stop());
    world.peers = { a: pa, b: pb };
    const [ua, ub] = [await freeUdpPort(), await freeUdpPort()];
    const emu = await startUdpEmulator({
      params,
      seed: o.seed,
      a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ua}` },
      b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ub}` },
    });
    cleanup.push(() => emu.close());
    world.emulatorStats = () => emu.stats();
    world.emulatorSummary = () => emu.summary();
    world.control = emu.control;
    const relays = {} as Record<Side, Relay>;
    for (const side of ['a', 'b'] as const) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const site = side === 'a' ? 'ship' : 'shore';
      mkdirSync(join(dir, site), { recursive: true });
      const peer = world.peers[side].addresses[0];
      const cfg = parseSiteConfig(
        siteYaml({
          site,
          dir: join(dir, site),
          local: DOMAINS[side],
          remote: DOMAINS[other],
          peerAddr: `${peer.host}:${peer.port}`,
          profile: o.profile,
          bind: `127.0.0.1:${side === 'a' ? ua : ub}`,
          // Behind a NAT the ship keeps peer; the shore has none and follows it (roaming).
          emu: params.nat && side === 'b' ? undefined : `127.0.0.1:${emu.addresses[side].port}`,
          key: keyFile,
          optimize: o.optimize,
        }),
        join(dir, `${site}.yaml`),
      );
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
function streamParams(p: BearerParams): BearerParams {
  const { ber: _ber, ...rest } = p;
  return rest;
}

// ----------------------------------------------------------------------- tracking

interface Tracked {
  s: BenchStanza;
  to: Side;
  seq: number;
  pair: string;
  sentAt?: number;
  arrivedAt?: number;
  count: number;
  /** iq get/set: the far side answered (we generated the reply). */
  answered?: boolean;
  response?: { key: string; bytes: number; sentAt: number; arrivedAt?: number };
}

class Tracker {
  readonly byKey = new Map<string, Tracked>();
  /** iq id -> query, for answers. */
  private readonly byIqId = new Map<string, Tracked>();
  private readonly pairMax = new Map<string, number>();
  duplicated = 0;
  reordered = 0;
  errors = 0;
  answeredNear = 0;
  unexpected = 0;
  responsesSent = 0;
  responsesReceived = 0;
  pendingCount = 0;
  private waiters: Array<() => void> = [];

  constructor(
    readonly world: World,
    stanzas: BenchStanza[],
  ) {
    const seqs = new Map<string, number>();
    for (const s of stanzas) {
      const pair = `${s.el.attr('from')}\n${s.el.attr('to')}`;
      const seq = seqs.get(pair) ?? 0;
      seqs.set(pair, seq + 1);
      const t: Tracked = { s, to: s.from === 'a' ? 'b' : 'a', seq, pair, count: 0 };
      this.byKey.set(s.key, t);
      if (s.kind === 'iq') this.byIqId.set(s.el.attr('id')!, t);
    }
    world.onStanza = (side, el) => this.arrive(side, el);
    world.onUndeliverable = (side, el) => {
      const t = this.byKey.get(`${el.attr('id')}\n${el.attr('to')}`);
      if (t && t.arrivedAt === undefined) this.errors++;
      this.notify();
    };
  }

  send(t: Tracked): void {
    t.sentAt = performance.now();
    this.pendingCount++;
    this.world.send(t.s.from, t.s.el);
  }

  /** True once the stanza arrived (and its answer, for an iq the far side answered). */
  done(t: Tracked): boolean {
    if (t.arrivedAt === undefined) return false;
    return !t.response || t.response.arrivedAt !== undefined;
  }

  private arrive(side: Side, el: XmlElement): void {
    const now = performance.now();
    const type = el.attr('type');
    const id = el.attr('id') ?? '';
    if (el.local === 'iq' && (type === 'result' || type === 'error')) {
      const q = this.byIqId.get(id);
      if (q && q.s.from === side) {
        if (q.response) {
          if (q.response.arrivedAt === undefined) {
            q.response.arrivedAt = now;
            this.responsesReceived++;
          } else this.duplicated++;
        } else if (q.arrivedAt === undefined && type === 'result') {
          // Answered on the near side (a relay cache) without crossing.
          q.arrivedAt = now;
          q.count++;
          this.answeredNear++;
        } else if (type === 'error') {
          this.errors++;
        } else this.unexpected++;
        return this.notify();
      }
    }
    const t = this.byKey.get(`${id}\n${el.attr('to')}`);
    if (!t || t.to !== side) {
      if (type === 'error') {
        const orig = this.byKey.get(`${id}\n${el.attr('from')}`);
        if (orig) this.errors++;
        else this.unexpected++;
      } else this.unexpected++;
      return this.notify();
    }
    t.count++;
    if (t.count > 1) {
      this.duplicated++;
      return;
    }
    t.arrivedAt = now;
    const max = this.pairMax.get(t.pair) ?? -1;
    if (t.seq < max) this.reordered++;
    else this.pairMax.set(t.pair, t.seq);
    const reply = replyFor(el);
    if (reply) {
      const bytes = reply.toBuffer().length;
      t.response = { key: `${reply.attr('id')}\n${reply.attr('to')}`, bytes, sentAt: now };
      this.responsesSent++;
      this.world.send(side, reply);
    }
    this.notify();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when pred() holds or at the deadline (ms from now); returns pred(). */
  async waitFor(pred: () => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (!pred()) {
      const left = end - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return true;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

function sumStats(s: { ab: DirStats; ba: DirStats }, f: (d: DirStats) => number): number {
  return f(s.ab) + f(s.ba);
}

/** Drives one world through the workload; returns its figures. */
export async function measure(world: World, stanzas: BenchStanza[], params: BearerParams, o: { log?: Logger; patience?: number; outage?: OutageSpec } = {}): Promise<Figures> {
  const log = o.log ?? silentLogger;
  const patience = o.patience ?? 1;
  const tr = new Tracker(world, stanzas);
  const all = [...tr.byKey.values()];
  const rtt = 2 * (params.delay_ms + (params.jitter_ms ?? 0)) + (params.duplex === 'half' ? 2 * (params.turnaround_ms ?? 0) : 0);
  const secsFor = (bytes: number): number => (bytes * 8 * 1000) / params.rate_bps;

  // Cold start: the first stanza alone (generous: plain S2S setup is ~15 KB and ~10 round trips).
  const first = all[0];
  const t0 = performance.now();
  tr.send(first);
  const coldDeadline = patience * (60_000 + 30 * rtt + secsFor(40_000 + first.s.bytes * 4));
  await tr.waitFor(() => tr.done(first), coldDeadline);
  const firstMs = first.arrivedAt !== undefined ? first.arrivedAt - t0 : null;
  log.info({ path: world.kind, first_stanza_ms: firstMs === null ? null : round(firstMs) }, 'first stanza');

  // Burst: everything else at once (in waves when the workload has them: each after the previous one arrived).
  const rest = all.slice(1);
  const before = world.emulatorStats();
  const t1 = performance.now();
  const cpu0 = process.cpuUsage();
  const waves = [...new Set(rest.map((t) => t.s.wave ?? 1))].sort((a, b) => a - b);
  const restBytes = rest.reduce((a, t) => a + t.s.bytes, 0) + rest.filter((t) => t.s.kind === 'iq').length * 1500;
  const outage = o.outage ? new OutageRun(world, o.outage, log) : undefined;
  outage?.arm();
  const deadline = patience * (60_000 + 30 * rtt * waves.length + 3 * secsFor(restBytes + 20_000)) + (outage?.durationMs ?? 0);
  const progress = setInterval(() => {
    const n = all.filter((t) => t.arrivedAt !== undefined).length;
    log.info({ path: world.kind, delivered: n, of: all.length, elapsed_s: round((performance.now() - t1) / 1000) }, 'progress');
  }, 10_000);
  let complete = true;
  try {
    for (const w of waves) {
      const batch = rest.filter((t) => (t.s.wave ?? 1) === w);
      for (const t of batch) tr.send(t);
      const left = deadline - (performance.now() - t1);
      complete = await tr.waitFor(() => batch.every((t) => tr.done(t)), left);
      if (!complete) break;
    }
  } finally {
    clearInterval(progress);
  }
  // Stragglers of an incomplete wave still count if they make the deadline.
  if (!complete) {
    for (const t of rest) if (t.sentAt === undefined) tr.send(t);
    complete = await tr.waitFor(() => all.every((t) => tr.done(t)), Math.max(0, deadline - (performance.now() - t1)));
  }
  const tEnd = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const after = world.emulatorStats();
  if (!complete) log.warn({ path: world.kind, deadline_ms: Math.round(deadline) }, 'deadline reached before everything arrived');
  // A late duplicate would show up here.
  await new Promise((r) => setTimeout(r, Math.max(500, 2 * rtt)));

  const delivered = all.filter((t) => t.arrivedAt !== undefined);
  const lastArrival = Math.max(t1, ...rest.flatMap((t) => [t.arrivedAt ?? 0, t.response?.arrivedAt ?? 0]));
  const transfer = rest.length ? lastArrival - t1 : (first.arrivedAt ?? t0) - t0;
  const burstBytes = rest.reduce((a, t) => a + (t.arrivedAt !== undefined ? t.s.bytes : 0) + (t.response?.arrivedAt !== undefined ? t.response.bytes : 0), 0);
  const goodBytes = rest.length ? burstBytes : first.arrivedAt !== undefined ? first.s.bytes : 0;
  const xmlBytes = all.reduce((a, t) => a + (t.arrivedAt !== undefined ? t.s.bytes : 0) + (t.response?.arrivedAt !== undefined ? t.response.bytes : 0), 0);
  const lat = delivered.map((t) => t.arrivedAt! - t.sentAt!).sort((a, b) => a - b);
  const busy = (d: 'ab' | 'ba'): number => after[d].busy_ms - before[d].busy_ms;
  const busyMs = params.duplex === 'half' ? busy('ab') + busy('ba') : Math.max(busy('ab'), busy('ba'));
  const linkAb = after.ab.bytes_sent;
  const linkBa = after.ba.bytes_sent;
  const fig: Figures = {
    stanzas: all.length,
    delivered: delivered.length,
    lost: all.length - delivered.length,
    duplicated: tr.duplicated,
    reordered: tr.reordered,
    errors: tr.errors,
    answered_near: tr.answeredNear,
    responses: { sent: tr.responsesSent, received: tr.responsesReceived },
    xml_bytes: xmlBytes,
    link_bytes: linkAb + linkBa,
    link_bytes_ab: linkAb,
    link_bytes_ba: linkBa,
    header_bytes: null,
    bytes_per_stanza: round((linkAb + linkBa) / all.length),
    goodput_bps: transfer > 0 ? Math.round((goodBytes * 8 * 1000) / transfer) : 0,
    link_utilization: transfer > 0 ? round(Math.min(1, busyMs / transfer), 3) : 0,
    latency_ms: { p50: round(percentile(lat, 50)), p95: round(percentile(lat, 95)), p99: round(percentile(lat, 99)), max: round(lat.at(-1) ?? 0) },
    first_stanza_ms: firstMs === null ? null : round(firstMs),
    transfer_ms: round(transfer),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    emulator: {
      dropped: sumStats(after, (d) => d.dropped_loss + d.dropped_mtu + d.dropped_queue + d.dropped_outage + d.dropped_nat),
      corrupted: sumStats(after, (d) => d.corrupted_packets),
      duplicated: sumStats(after, (d) => d.duplicated),
      reordered: sumStats(after, (d) => d.reordered),
    },
  };
  if (outage) Object.assign(fig, outage.figures(all.flatMap((t) => [t.arrivedAt ?? -Infinity, t.response?.arrivedAt ?? -Infinity])));
  if (tr.unexpected) log.warn({ path: world.kind, unexpected: tr.unexpected }, 'stanzas arrived that the workload did not send');
  log.info({ path: world.kind, delivered: fig.delivered, lost: fig.lost, transfer_ms: fig.transfer_ms, end_ms: round(tEnd - t0) }, 'done');
  return fig;
}

function relayExtras(world: World, fig: Figures): void {
  if (!world.relays) return;
  const stats = (['a', 'b'] as const).map((s) => (world.relays![s].links[0] as ConstrainedLink).stats());
  fig.header_bytes = stats.reduce((a, s) => a + s.headerBytes, 0);
  fig.retransmits = stats.reduce((a, s) => a + s.retransmits, 0);
  const inB = stats.reduce((a, s) => a + s.stanzaBytesIn, 0);
  const outB = stats.reduce((a, s) => a + s.compressedBytesOut, 0);
  fig.compression_ratio = outB > 0 ? round(inB / outB, 2) : 0;
}

function describeLoss(p: BearerParams): string {
  if (!p.loss) return 'none';
  if (p.loss.model === 'bernoulli') return `bernoulli ${p.loss.p}`;
  return `gilbert-elliott p_gb=${p.loss.p_gb} p_bg=${p.loss.p_bg}`;
}

/** One benchmark: relay pair, then the baseline, over the same bearer (profile, seed). */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const log = o.log ?? silentLogger;
  const seed = o.seed ?? 1;
  const baselineKind = o.baseline ?? 'builtin';
  if (baselineKind === 'prosody') (await import('./prosody.ts')).checkProsodyWorkload(o.workload);
  const started = new Date();
  const plain = loadBearerParams(o.profile);
  const params = o.natRebindS ? withNat(plain, o.natRebindS) : plain;
  const stanzas = makeWorkload(o.workload, o.stanzas ?? DEFAULT_STANZAS, seed);
  const notes: string[] = [
    'bearer bytes are what the endpoints offered to the emulator (no IP/UDP/TCP headers unless the profile sets overhead_bytes); TCP SYN/FIN cost 40 B each',
  ];
  if (o.outage) notes.push(`outage: the bearer is cut both ways ${o.outage.startS} s after the burst starts, for ${o.outage.durationS} s (not on the Prosody baseline); resume_ms runs from its return to the next delivery`);
  if (o.natRebindS) notes.push(`nat: the ship's NAT gives it a new source port every ${o.natRebindS} s; the shore relay has no peer and follows it; the baseline runs without the NAT (a rebinding cuts TCP connections)`);
  if (params.loss || params.ber) notes.push("baseline: the emulator's TCP stream mode is lossless and error-free (loss and ber apply to datagrams only), so plain S2S pays no TCP retransmission here: its figures are a best case");

  log.info({ profile: o.profile, workload: o.workload, stanzas: stanzas.length, seed }, 'relay pair');
  const relayWorld = await startRelayWorld({ profile: o.profile, seed, relayLog: o.relayLog, params, tmpDir: o.tmpDir, optimize: o.optimize });
  let relay: Figures;
  try {
    relay = await measure(relayWorld, stanzas, params, { log, patience: o.patience, outage: o.outage });
    relayExtras(relayWorld, relay);
    if (o.natRebindS) Object.assign(relay, natFigures(relayWorld, o.natRebindS));
  } finally {
    await relayWorld.stop();
  }

  let baseline: Figures | null = null;
  if (baselineKind === 'builtin') {
    log.info({ profile: o.profile, workload: o.workload }, 'baseline: plain S2S');
    // Fresh stanzas objects (same content): trackers keep per-run state on them.
    const again = makeWorkload(o.workload, o.stanzas ?? DEFAULT_STANZAS, seed);
    const baseWorld = await startBaselineWorld({ profile: o.profile, seed, params: plain, tmpDir: o.tmpDir });
    try {
      baseline = await measure(baseWorld, again, plain, { log, patience: o.patience, outage: o.outage });
    } finally {
      await baseWorld.stop();
    }
  }
  if (baselineKind === 'prosody') {
    log.info({ profile: o.profile, workload: o.workload }, 'baseline: two Prosody servers');
    const { startProsodyWorld } = await import('./prosody.ts');
    const again = makeWorkload(o.workload, o.stanzas ?? DEFAULT_STANZAS, seed);
    const world = await startProsodyWorld({ seed, params: plain, tmpDir: o.tmpDir });
    try {
      baseline = await measure(world, again, plain, { log, patience: o.patience, outage: o.outage });
    } finally {
      await world.stop();
    }
    notes.push('baseline: two Prosody 0.12 servers, S2S TLS required; messages injected by one client per side (c2s is local), each addressed to the one user on the other side');
  }
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? round(a / b, 2) : null);
  return {
    profile: o.profile,
    workload: o.workload,
    seed,
    bearer: { rate_bps: params.rate_bps, delay_ms: params.delay_ms, loss: describeLoss(params), duplex: params.duplex ?? 'full' },
    ...relay,
    baseline_kind: baselineKind,
    optimize: o.optimize ?? 'on',
    baseline,
    ratios: baseline
      ? {
          first_stanza: ratio(baseline.first_stanza_ms, relay.first_stanza_ms),
          bytes_per_stanza: ratio(baseline.bytes_per_stanza, relay.bytes_per_stanza),
          goodput: ratio(relay.goodput_bps, baseline.goodput_bps),
        }
      : null,
    notes,
    started_at: started.toISOString(),
    duration_s: round((Date.now() - started.getTime()) / 1000),
  };
}

/**
 * One benchmark run: a workload through the relay pair, then through plain
 * S2S (the baseline), over the same emulated bearer (same profile, same
 * seed), in real time. Each relay runs in its own process (world-procs.ts),
 * so its CPU time and memory are its own.
 *
 *   relay:    peer a.example <-S2S/TLS-> relay A ~UDP emulator~ relay B <-S2S/TLS-> peer b.example
 *   baseline: peer a.example <-S2S/TLS over a TCP emulator (both directions, one bearer)-> peer b.example
 *
 * The baseline is the built-in one (baseline.ts), none, or one the caller
 * brings (an ExtraBaseline: bench/prosody.ts runs two real Prosody servers).
 */
import { loadBearerParams, type BearerParams } from '../emulator/index.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { SITE_DEFAULTS } from '../config/defaults.ts';
import { makeWorkload, type BenchStanza } from './workloads.ts';
import type { OutageSpec } from './outage.ts';
import { natFigures, withNat } from './nat.ts';
import { meteredFigures, meteredNote, meteredSite, type MeteredBench } from './metered.ts';
import type { World } from './world.ts';
import { startRelayProcessWorld, type RelayUsage } from './world-procs.ts';
import { startBaselineWorld } from './baseline.ts';
import { linkTotals, measure, round, type Figures } from './measure.ts';

/** A baseline path besides the built-in one, brought by the caller (bench/prosody.ts: two real Prosody servers). */
export interface ExtraBaseline {
  /** Its name for --baseline and in the result's baseline_kind. */
  kind: string;
  /** Its column in the table. */
  title: string;
  /** Throws a BenchError when this run cannot have it (workload, missing server). */
  check(workload: string): void;
  start(o: { seed: number; params: BearerParams; tmpDir?: string }): Promise<World>;
  /** How its figures were taken (one line of the result's notes). */
  note: string;
}

/** 'builtin' (baseline.ts), 'none', or the caller's own. */
export type BaselineChoice = 'builtin' | 'none' | ExtraBaseline;

export interface BenchResult extends Figures {
  profile: string;
  workload: string;
  seed: number;
  bearer: { rate_bps: number; delay_ms: number; loss: string; duplex: string };
  /** 'builtin', 'none' or an ExtraBaseline's kind. */
  baseline_kind: string;
  /** the relays' traffic optimizers: on, off, or the comma list left on (optimize-choice.ts) */
  optimize: string;
  /** both relays' local.delivery_window */
  delivery_window: number;
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
  baseline?: BaselineChoice;
  /** 'off': the relays run with presence coalescing, disco cache and fan-out folding switched off (default 'on'). */
  optimize?: string;
  /** progress lines (info). */
  log?: Logger;
  /** the relays' log level (each relay process logs to a file in the run's temp dir, removed at the end; default warn). */
  relayLogLevel?: string;
  /** extra node flags for the relay processes (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  relayNodeArgs?: readonly string[];
  /** Deadline multiplier (default 1). */
  patience?: number;
  /** Where the relays' data dirs (spool: fsync per commit) and certs go (default the OS temp dir). */
  tmpDir?: string;
  /** Cut the bearer both ways during the burst (outage.ts). */
  outage?: OutageSpec;
  /** The ship behind a NAT that rebinds every this many seconds; the shore without peer (nat.ts). */
  natRebindS?: number;
  /** Both relays see the bearer as metered (metered.ts). */
  metered?: MeteredBench;
  /** Both relays' local.delivery_window (absent: the site-file default). */
  deliveryWindow?: number;
  /** Chat stanzas sent as a warm-up burst before the measured one, not counted (absent: warmupFor(); 0: none, a cold start). */
  warmup?: number;
}

export const DEFAULT_STANZAS = 200;

/** The default warm-up carries about this much line time ... */
const WARMUP_LINE_S = 3;
/** ... at about this many bearer bytes per chat stanza (the relays' figure, rounded up). */
const WARMUP_BYTES_PER_STANZA = 64;
/** Below this many the warm-up is left out: on such a slow bearer CPU time is not what the run is about. */
const WARMUP_MIN = 100;

/**
 * The default warm-up: as many chat stanzas as the measured burst, at most
 * about 3 s of the bearer's line; none on bearers too slow for 100, and none
 * in a run that cuts the bearer, moves the ship behind a NAT or meters the
 * bearer (`special`): their counters cover the whole run, and a warm-up
 * would spend the budget a metered run measures.
 */
export function warmupFor(params: BearerParams, stanzas: number, special: boolean): number {
  if (special) return 0;
  const n = Math.min(stanzas, Math.floor((params.rate_bps * WARMUP_LINE_S) / 8 / WARMUP_BYTES_PER_STANZA));
  return n >= WARMUP_MIN ? n : 0;
}

/** Link counters and usage from the relays; returns the usage (undefined: the world has none). */
async function relayExtras(world: World, fig: Figures): Promise<{ a: RelayUsage; b: RelayUsage } | undefined> {
  if (!world.usage) return undefined;
  const u = await world.usage();
  // The whole run's counters, less the warm-up's (as link_bytes).
  const t = linkTotals(u, fig.warmup?.links);
  fig.header_bytes = t.headerBytes;
  fig.retransmits = t.retransmits;
  fig.compression_ratio = t.compressedBytesOut > 0 ? round(t.stanzaBytesIn / t.compressedBytesOut, 2) : 0;
  return u;
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
  const choice = o.baseline ?? 'builtin';
  const extra = typeof choice === 'object' ? choice : undefined;
  extra?.check(o.workload);
  const started = new Date();
  const plain = loadBearerParams(o.profile);
  const params = o.natRebindS ? withNat(plain, o.natRebindS) : plain;
  const stanzas = makeWorkload(o.workload, o.stanzas ?? DEFAULT_STANZAS, seed);
  const warm = o.warmup ?? warmupFor(params, stanzas.length, o.metered !== undefined || o.natRebindS !== undefined || o.outage !== undefined);
  // Chat of its own (another seed: other ids), so no optimizer cache or fold the measured workload meets is filled before it.
  const warmup = (): BenchStanza[] => (warm > 0 ? makeWorkload('chat', warm, seed + 0x5eed) : []);
  const notes: string[] = [
    'bearer bytes are what the endpoints offered to the emulator (no IP/UDP/TCP headers unless the profile sets overhead_bytes); TCP SYN/FIN cost 40 B each',
  ];
  if (o.outage) notes.push(`outage: the bearer is cut both ways ${o.outage.startS} s after the burst starts, for ${o.outage.durationS} s (not on the Prosody baseline); resume_ms runs from its return to the next delivery`);
  if (o.natRebindS) notes.push(`nat: the ship's NAT gives it a new source port every ${o.natRebindS} s; the shore relay has no peer and follows it; the baseline runs without the NAT (a rebinding cuts TCP connections)`);
  if (params.loss || params.ber) notes.push("baseline: the emulator's TCP stream mode is lossless and error-free (loss and ber apply to datagrams only), so plain S2S pays no TCP retransmission here: its figures are a best case");

  log.info({ profile: o.profile, workload: o.workload, stanzas: stanzas.length, seed }, 'relay pair');
  if (o.metered) notes.push(meteredNote(o.metered));
  if (warm > 0) notes.push(`warm-up: before the measured burst, each path carried ${warm} chat stanzas of their own (not counted), as a relay that has run a while has; --warmup 0 measures a cold start`);
  const relayWorld = await startRelayProcessWorld({ profile: o.profile, seed, params, tmpDir: o.tmpDir, optimize: o.optimize, logLevel: o.relayLogLevel, nodeArgs: o.relayNodeArgs, ...meteredSite(o.metered), deliveryWindow: o.deliveryWindow });
  let relay: Figures;
  try {
    relay = await measure(relayWorld, stanzas, params, { log, patience: o.patience, outage: o.outage, warmup: warmup() });
    const usage = await relayExtras(relayWorld, relay);
    if (o.metered && usage) relay.metered = meteredFigures(usage);
    if (o.natRebindS) Object.assign(relay, natFigures(relayWorld, o.natRebindS, usage?.b.links.reduce((n, l) => n + l.peerMoves, 0) ?? 0));
  } finally {
    await relayWorld.stop();
  }

  let baseline: Figures | null = null;
  if (choice !== 'none') {
    log.info({ profile: o.profile, workload: o.workload }, `baseline: ${extra ? extra.title : 'plain S2S'}`);
    // Fresh stanza objects (same content): trackers keep per-run state on them.
    const again = makeWorkload(o.workload, o.stanzas ?? DEFAULT_STANZAS, seed);
    const world = extra ? await extra.start({ seed, params: plain, tmpDir: o.tmpDir }) : await startBaselineWorld({ profile: o.profile, seed, params: plain, tmpDir: o.tmpDir });
    try {
      baseline = await measure(world, again, plain, { log, patience: o.patience, outage: o.outage, warmup: warmup() });
    } finally {
      await world.stop();
    }
    if (extra) notes.push(extra.note);
  }
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null => (a && b ? round(a / b, 2) : null);
  return {
    profile: o.profile,
    workload: o.workload,
    seed,
    bearer: { rate_bps: params.rate_bps, delay_ms: params.delay_ms, loss: describeLoss(params), duplex: params.duplex ?? 'full' },
    ...relay,
    baseline_kind: typeof choice === 'object' ? choice.kind : choice,
    optimize: o.optimize ?? 'on',
    delivery_window: o.deliveryWindow ?? SITE_DEFAULTS.local.delivery_window,
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

/**
 * Drives a World through a workload and takes its figures: the first stanza
 * alone with every connection cold (first_stanza_ms), then the rest in one
 * burst (in waves where the workload has them), timed until the last
 * arrival. Stanzas are tracked by id + to; iq queries get the far side's
 * answer (workloads.replyFor). Real time: the figures are measurements.
 */
import type { MeteredFigures } from './metered.ts';
import { performance } from 'node:perf_hooks';
import type { BearerParams, DirStats } from '../emulator/index.ts';
import type { XmlElement } from '../xml/element.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { replyFor, type BenchStanza, type Side } from './workloads.ts';
import { OutageRun, type OutageFigures, type OutageSpec } from './outage.ts';
import type { NatFigures } from './nat.ts';
import type { World } from './world.ts';
import type { RelayUsage } from './relay-process.ts';

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Figures of one path (relay pair or baseline). Times in ms, rates in bit/s, sizes in bytes. */
export interface Figures extends Partial<OutageFigures>, Partial<NatFigures>, Partial<MeteredFigures> {
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
  /** bytes offered to the bearer, both directions, over the whole run (setup included), the warm-up left out. */
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
  /**
   * line busy time / (transfer time - the bearer's one-way delay) on the busier direction (both when half duplex):
   * how busy the relays kept the line, the propagation delay no relay can shorten left out.
   */
  bearer_busy: number;
  latency_ms: Latency;
  /** from injecting the first stanza (all connections cold) to its arrival; null when it never arrived. */
  first_stanza_ms: number | null;
  /** from the burst's injection to its last arrival. */
  transfer_ms: number;
  emulator: { dropped: number; corrupted: number; duplicated: number; reordered: number };
  /** CPU time (user + system) of the benchmark process during the burst, ms: peers, emulator, tracking (and relays run in it, not those in their own processes). */
  cpu_ms?: number;
  /** stanzas (and iq answers) of the burst delivered per second of its transfer time. */
  stanzas_per_s?: number;
  /** relay pair as processes: each relay's own CPU time during the burst, per burst stanza, and its peak RSS. */
  relays?: Record<Side, RelayFigures>;
  /** The warm-up burst before the measured one (not counted above): chat stanzas sent, how many arrived, and what it put on the bearer. */
  warmup?: Warmup;
  /** relay only: link retransmits (frames), compression ratio of stanza bytes. */
  retransmits?: number;
  compression_ratio?: number;
}

export interface Warmup {
  stanzas: number;
  delivered: number;
  duplicated: number;
  /** Bearer bytes each way during the warm-up (left out of link_bytes). */
  link_bytes_ab: number;
  link_bytes_ba: number;
  /** The relays' link counters during the warm-up, summed over both relays (left out of header_bytes, retransmits, compression_ratio). */
  links?: { headerBytes: number; retransmits: number; stanzaBytesIn: number; compressedBytesOut: number };
}

type LinkTotals = NonNullable<Warmup['links']>;

/** The relays' link counters summed over both relays, less `since` (counters read earlier) when given. */
export function linkTotals(u: Record<Side, RelayUsage>, since?: LinkTotals): LinkTotals {
  const all = [...u.a.links, ...u.b.links];
  const sum = (k: keyof LinkTotals): number => all.reduce((a, l) => a + l[k], 0) - (since?.[k] ?? 0);
  return { headerBytes: sum('headerBytes'), retransmits: sum('retransmits'), stanzaBytesIn: sum('stanzaBytesIn'), compressedBytesOut: sum('compressedBytesOut') };
}

/** The warm-up lost or duplicated stanzas. */
export const warmupLost = (w: Warmup | undefined): boolean => w !== undefined && (w.delivered < w.stanzas || w.duplicated > 0);

export interface RelayFigures {
  cpu_ms: number;
  cpu_us_per_stanza: number;
  rss_max_mb: number;
}

function relayFigures(u0: Record<Side, RelayUsage>, u1: Record<Side, RelayUsage>, stanzas: number): Record<Side, RelayFigures> {
  const one = (s: Side): RelayFigures => {
    const us = u1[s].cpu_us - u0[s].cpu_us;
    return { cpu_ms: round(us / 1000), cpu_us_per_stanza: round(us / Math.max(1, stanzas)), rss_max_mb: round(u1[s].max_rss_kb / 1024) };
  };
  return { a: one('a'), b: one('b') };
}

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
    this.attach();
  }

  /** Takes the world's arrivals (another tracker may have had them). */
  attach(): void {
    const world = this.world;
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

/**
 * Injects a burst a slice at a time, letting the event loop run between
 * slices: the emulator lives in this process, and one long synchronous loop
 * would hold back the relays' first frames (they would look like a slow start).
 */
async function sendInSlices(tr: Tracker, ts: Tracked[], slice = 100): Promise<void> {
  for (let i = 0; i < ts.length; i += slice) {
    if (i > 0) await new Promise<void>((r) => setImmediate(r));
    for (const t of ts.slice(i, i + slice)) tr.send(t);
  }
}

/** "Every one of `ts` is done", asked once per arrival: resumes where the last ask stopped (done never goes back), not from the start. */
function allDone(tr: Tracker, ts: Tracked[]): () => boolean {
  let i = 0;
  return () => {
    while (i < ts.length && tr.done(ts[i])) i++;
    return i === ts.length;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const round = (n: number, d = 1): number => Math.round(n * 10 ** d) / 10 ** d;

function sumStats(s: { ab: DirStats; ba: DirStats }, f: (d: DirStats) => number): number {
  return f(s.ab) + f(s.ba);
}

/**
 * The warm-up: a burst of other stanzas (their own tracker) before the
 * measured one, waited for and left out of the figures. A relay that has run
 * a while has its hot code compiled; a process started for the run would
 * otherwise compile it during the measured burst, on the same cores.
 */
async function warmUp(world: World, stanzas: BenchStanza[], c: { log: Logger; patience: number; rtt: number; secsFor: (bytes: number) => number }): Promise<Warmup> {
  const e0 = world.emulatorStats();
  const u0 = await world.usage?.();
  const wt = new Tracker(world, stanzas);
  const ts = [...wt.byKey.values()];
  const bytes = ts.reduce((a, t) => a + t.s.bytes, 0);
  await sendInSlices(wt, ts);
  const complete = await wt.waitFor(allDone(wt, ts), c.patience * (60_000 + 30 * c.rtt + 3 * c.secsFor(bytes + 20_000)));
  // Let the link's last acknowledgements cross before the measured burst starts.
  await new Promise((r) => setTimeout(r, Math.max(250, c.rtt)));
  const delivered = ts.filter((t) => t.arrivedAt !== undefined).length;
  if (!complete) c.log.warn({ path: world.kind, delivered, of: ts.length }, 'warm-up burst incomplete at its deadline');
  c.log.info({ path: world.kind, stanzas: ts.length, delivered, duplicated: wt.duplicated }, 'warm-up');
  const e1 = world.emulatorStats();
  const u1 = u0 && (await world.usage?.());
  const w: Warmup = { stanzas: ts.length, delivered, duplicated: wt.duplicated, link_bytes_ab: e1.ab.bytes_sent - e0.ab.bytes_sent, link_bytes_ba: e1.ba.bytes_sent - e0.ba.bytes_sent };
  if (u0 && u1) w.links = linkTotals(u1, linkTotals(u0));
  return w;
}

/** Drives one world through the workload; returns its figures. */
export async function measure(world: World, stanzas: BenchStanza[], params: BearerParams, o: { log?: Logger; patience?: number; outage?: OutageSpec; warmup?: BenchStanza[] } = {}): Promise<Figures> {
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

  const warmup = o.warmup?.length ? await warmUp(world, o.warmup, { log, patience, rtt, secsFor }) : undefined;
  if (warmup) tr.attach();

  // Burst: everything else at once (in waves when the workload has them: each after the previous one arrived).
  const rest = all.slice(1);
  const usage0 = await world.usage?.();
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
      await sendInSlices(tr, batch);
      const left = deadline - (performance.now() - t1);
      complete = await tr.waitFor(allDone(tr, batch), left);
      if (!complete) break;
    }
  } finally {
    clearInterval(progress);
  }
  // Stragglers of an incomplete wave still count if they make the deadline.
  if (!complete) {
    for (const t of rest) if (t.sentAt === undefined) tr.send(t);
    complete = await tr.waitFor(allDone(tr, all), Math.max(0, deadline - (performance.now() - t1)));
  }
  const tEnd = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const after = world.emulatorStats();
  const usage1 = usage0 && (await world.usage?.());
  if (!complete) log.warn({ path: world.kind, deadline_ms: Math.round(deadline) }, 'deadline reached before everything arrived');
  // A late duplicate would show up here.
  await new Promise((r) => setTimeout(r, Math.max(500, 2 * rtt)));

  const delivered = all.filter((t) => t.arrivedAt !== undefined);
  const lastArrival = Math.max(t1, ...rest.flatMap((t) => [t.arrivedAt ?? 0, t.response?.arrivedAt ?? 0]));
  const transfer = rest.length ? lastArrival - t1 : (first.arrivedAt ?? t0) - t0;
  const burstBytes = rest.reduce((a, t) => a + (t.arrivedAt !== undefined ? t.s.bytes : 0) + (t.response?.arrivedAt !== undefined ? t.response.bytes : 0), 0);
  const burstDelivered = rest.reduce((a, t) => a + (t.arrivedAt !== undefined ? 1 : 0) + (t.response?.arrivedAt !== undefined ? 1 : 0), 0);
  const goodBytes = rest.length ? burstBytes : first.arrivedAt !== undefined ? first.s.bytes : 0;
  const xmlBytes = all.reduce((a, t) => a + (t.arrivedAt !== undefined ? t.s.bytes : 0) + (t.response?.arrivedAt !== undefined ? t.response.bytes : 0), 0);
  const lat = delivered.map((t) => t.arrivedAt! - t.sentAt!).sort((a, b) => a - b);
  const busy = (d: 'ab' | 'ba'): number => after[d].busy_ms - before[d].busy_ms;
  const busyMs = params.duplex === 'half' ? busy('ab') + busy('ba') : Math.max(busy('ab'), busy('ba'));
  // The whole run but the warm-up: cold probe and its setup, then the burst.
  const linkAb = after.ab.bytes_sent - (warmup?.link_bytes_ab ?? 0);
  const linkBa = after.ba.bytes_sent - (warmup?.link_bytes_ba ?? 0);
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
    stanzas_per_s: transfer > 0 && rest.length ? round((burstDelivered * 1000) / transfer, (burstDelivered * 1000) / transfer >= 10 ? 0 : 1) : 0,
    link_utilization: transfer > 0 ? round(Math.min(1, busyMs / transfer), 3) : 0,
    bearer_busy: transfer > params.delay_ms ? round(Math.min(1, busyMs / (transfer - params.delay_ms)), 3) : 0,
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
  if (usage0 && usage1) fig.relays = relayFigures(usage0, usage1, rest.length);
  if (warmup) fig.warmup = warmup;
  if (outage) Object.assign(fig, await outage.figures(all.flatMap((t) => [t.arrivedAt ?? -Infinity, t.response?.arrivedAt ?? -Infinity])));
  if (tr.unexpected) log.warn({ path: world.kind, unexpected: tr.unexpected }, 'stanzas arrived that the workload did not send');
  log.info({ path: world.kind, delivered: fig.delivered, lost: fig.lost, transfer_ms: fig.transfer_ms, end_ms: round(tEnd - t0) }, 'done');
  return fig;
}

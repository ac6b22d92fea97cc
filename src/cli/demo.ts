/**
 * `satrelay demo [--profile NAME] [--duration S] [--rate N]`: a relay pair
 * over the bundled emulator, with built-in S2S peers for a.example and
 * b.example and the mixed workload (presence, chat, disco) running
 * continuously. Live figures redraw every second on a terminal (one line a
 * second otherwise); Ctrl-C or --duration ends it with a summary. The
 * relays' logs go to a file in the demo's temp dir, removed on exit unless
 * --keep.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../obs/log.ts';
import type { Metrics } from '../obs/metrics.ts';
import type { XmlElement } from '../xml/element.ts';
import type { ConstrainedLink } from '../link/constrained/index.ts';
import { loadBearerParams, type DirStats } from '../emulator/index.ts';
import { startRelayWorld, type World } from '../sim/world.ts';
import { makeWorkload, replyFor, type BenchStanza, type Side } from '../sim/workloads.ts';
import { numberOption, runCommand, UsageError, type CommandSpec, type Values } from './args.ts';
import { comparisonLine, explainStall, storedPlainS2S } from './demo-text.ts';

export const DEMO: CommandSpec = {
  name: 'demo',
  summary: 'A relay pair on loopback over the emulated bearer of a link profile, with built-in S2S peers for a.example\nand b.example and mixed traffic (presence, chat, disco); live figures, compared with plain S2S.',
  usage: '[--profile NAME] [--duration S] [--rate N] [--seed S] [--keep]',
  options: {
    profile: { type: 'string', value: 'NAME', help: 'link profile, profiles/NAME.yaml or a path (default milsatcom-9600; hf-1200 is the slowest)' },
    duration: { type: 'string', value: 'S', help: 'stop after S seconds (default: run until Ctrl-C)' },
    rate: { type: 'string', value: 'N', help: 'stanzas per second offered (default: about half of what the bearer carries)' },
    seed: { type: 'string', value: 'S', help: 'emulator and traffic seed (default 1)' },
    keep: { type: 'boolean', help: "keep the temp folder with the relays' logs and data (default: removed on exit)" },
  },
  notes: 'From a checkout: npm start -- --profile hf-1200',
};

interface DirCount {
  sent: number;
  delivered: number;
  xml: number;
}

/** Live counters of the traffic generator. */
class Traffic {
  readonly dirs: Record<'ab' | 'ba', DirCount> = { ab: { sent: 0, delivered: 0, xml: 0 }, ba: { sent: 0, delivered: 0, xml: 0 } };
  /** key -> send time and direction */
  private readonly open = new Map<string, { at: number; dir: 'ab' | 'ba'; bytes: number }>();
  /** the first stanza sent (cold: no S2S session, empty caches) and its latency once delivered */
  private firstKey?: string;
  firstMs?: number;
  lastDeliveryAt = performance.now();
  /** iq id -> querying side, for answers from a relay's cache */
  private readonly iqs = new Map<string, { side: Side; key: string }>();
  readonly latencies: Array<{ at: number; ms: number }> = [];
  duplicates = 0;
  answeredNear = 0;
  errors = 0;

  constructor(private readonly world: World) {
    world.onStanza = (side, el) => this.arrive(side, el);
    world.onUndeliverable = () => void this.errors++;
  }

  send(s: BenchStanza): void {
    const dir = s.from === 'a' ? 'ab' : 'ba';
    this.open.set(s.key, { at: performance.now(), dir, bytes: s.bytes });
    this.firstKey ??= s.key;
    if (s.kind === 'iq') this.iqs.set(s.el.attr('id')!, { side: s.from, key: s.key });
    this.dirs[dir].sent++;
    this.world.send(s.from, s.el);
  }

  /** Sent and not yet delivered, one direction. */
  inFlight(dir: 'ab' | 'ba'): number {
    let k = 0;
    for (const o of this.open.values()) if (o.dir === dir) k++;
    return k;
  }

  /** How many are open and how long the oldest has waited, ms. */
  oldest(): { open: number; ms: number } {
    const first = this.open.values().next();
    return { open: this.open.size, ms: first.done ? 0 : performance.now() - first.value.at };
  }

  private done(key: string): void {
    const o = this.open.get(key);
    if (!o) return void this.duplicates++;
    this.open.delete(key);
    const now = performance.now();
    this.dirs[o.dir].delivered++;
    this.dirs[o.dir].xml += o.bytes;
    this.latencies.push({ at: now, ms: now - o.at });
    this.lastDeliveryAt = now;
    if (key === this.firstKey) this.firstMs = now - o.at;
  }

  private arrive(side: Side, el: XmlElement): void {
    const type = el.attr('type');
    const id = el.attr('id') ?? '';
    if (el.local === 'iq' && (type === 'result' || type === 'error')) {
      const q = this.iqs.get(id);
      if (q && q.side === side) {
        this.iqs.delete(id);
        if (type === 'error') this.errors++;
        else if (this.open.has(q.key)) {
          // Answered by the near relay's cache: the query never crossed.
          this.answeredNear++;
          this.done(q.key);
        }
        return;
      }
    }
    if (type === 'error') return void this.errors++;
    this.done(`${id}\n${el.attr('to')}`);
    const reply = replyFor(el);
    if (reply) this.world.send(side, reply);
  }

  /** Latency percentiles over the last `windowMs`. */
  percentiles(windowMs: number): { p50: number; p95: number; n: number } {
    const since = performance.now() - windowMs;
    while (this.latencies.length && this.latencies[0].at < since - 60_000) this.latencies.shift();
    const xs = this.latencies.filter((l) => l.at >= since).map((l) => l.ms).sort((a, b) => a - b);
    const pick = (p: number): number => (xs.length ? xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)] : NaN);
    return { p50: pick(0.5), p95: pick(0.95), n: xs.length };
  }
}

/** Sum of every optimize_* counter per name (cache hits, folds, ...), both relays. */
async function optimizeCounters(metrics: Metrics[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    for (const metric of await m.registry.getMetricsAsJSON()) {
      if (!metric.name.startsWith('satrelay_optimize_') || metric.type !== ('counter' as unknown as typeof metric.type)) continue;
      const name = metric.name.slice('satrelay_optimize_'.length).replace(/_total$/, '');
      for (const v of metric.values) out[name] = (out[name] ?? 0) + v.value;
    }
  }
  return out;
}

const n = (x: number, d = 0): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');
const ms = (x: number): string => (!Number.isFinite(x) ? '-' : x >= 1000 ? `${n(x / 1000, 1)} s` : `${n(x)} ms`);
const clock = (s: number): string => `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
const rateStr = (bps: number): string => (bps >= 1e6 ? `${n(bps / 1e6, 1)} Mbit/s` : bps >= 1e3 ? `${n(bps / 1e3, 1)} kbit/s` : `${n(bps)} bit/s`);

export async function demoCommand(args: string[]): Promise<number> {
  return runCommand(DEMO, args, (v) => demo(v));
}

async function demo(v: Values): Promise<number> {
  const profile = typeof v.profile === 'string' ? v.profile : 'milsatcom-9600';
  const duration = numberOption(v, 'duration', (x) => x > 0, 'a positive number of seconds') ?? Infinity;
  const seed = numberOption(v, 'seed', Number.isInteger, 'an integer') ?? 1;
  let params;
  try {
    params = loadBearerParams(profile);
  } catch (err) {
    throw new UsageError(`--profile: ${(err as Error).message}`);
  }
  // About half the bearer at ~100 link bytes per stanza (what the relay pair reaches on mixed traffic).
  const rate = numberOption(v, 'rate', (x) => x > 0, 'a positive number') ?? Math.max(0.5, Math.min(200, (0.5 * params.rate_bps) / 8 / 100));
  const plain = storedPlainS2S(profile);

  const dir = mkdtempSync(join(tmpdir(), 'satrelay-demo-'));
  const cleanup = (): void => {
    if (!v.keep) rmSync(dir, { recursive: true, force: true });
  };
  const logFile = join(dir, 'relays.log');
  const relayLog = createLogger({ level: 'info', pretty: false, destination: logFile });
  const tty = process.stdout.isTTY === true;
  process.stdout.write(`satrelay demo: starting a relay pair over an emulated ${profile} bearer (relay logs: ${logFile}${v.keep ? '' : ', removed on exit; --keep keeps them'})\n`);
  let world: World;
  try {
    world = await startRelayWorld({ profile, seed, relayLog, dir, params });
  } catch (err) {
    process.stderr.write(`satrelay demo: ${(err as Error).message}\n`);
    cleanup();
    return 1;
  }
  const traffic = new Traffic(world);
  const links = (['a', 'b'] as const).map((s) => world.relays![s].links[0] as ConstrainedLink);
  const metrics = (['a', 'b'] as const).map((s) => world.relays![s].metrics);
  const t0 = performance.now();

  // Traffic: the mixed workload, chunk after chunk (a new seed each: fresh ids), paced at `rate`.
  let chunk: BenchStanza[] = [];
  let chunkNo = 0;
  let owed = 0;
  let lastTick = performance.now();
  const gen = setInterval(() => {
    const now = performance.now();
    owed += ((now - lastTick) / 1000) * rate;
    lastTick = now;
    while (owed >= 1) {
      if (chunk.length === 0) chunk = makeWorkload('mixed', 500, seed * 1000 + chunkNo++);
      traffic.send(chunk.shift()!);
      owed--;
    }
  }, 50);

  let lines = 0;
  let retxSeen = 0;
  /** Why the oldest stanza still waits, when it has waited long (lost frame, link down, busy bearer). */
  const stall = (): string | undefined => {
    const ls = links.map((l) => l.stats());
    const retx = ls.reduce((a, s) => a + s.retransmits, 0);
    const o = traffic.oldest();
    const rtts = ls.map((s) => s.rttMs).filter((x): x is number => x !== undefined);
    const note = explainStall({
      open: o.open, oldestOpenMs: o.ms, up: links.every((l) => l.status().up), rtoMs: Math.max(...ls.map((s) => s.rtoMs)),
      inFlightFrames: ls.reduce((a, s) => a + s.inFlight, 0), retransmitsRecent: retx - retxSeen, rttMs: rtts.length ? Math.max(...rtts) : undefined,
      queued: links.reduce((a, l) => a + l.status().queued, 0),
    });
    retxSeen = retx;
    return note;
  };
  const snapshot = async (): Promise<string[]> => {
    const el = (performance.now() - t0) / 1000;
    const st: { ab: DirStats; ba: DirStats } = world.emulatorStats();
    const ls = links.map((l) => l.stats());
    const xmlIn = ls.reduce((a, s) => a + s.stanzaBytesIn, 0);
    const compOut = ls.reduce((a, s) => a + s.compressedBytesOut, 0);
    const retx = ls.reduce((a, s) => a + s.retransmits, 0);
    const rtt = ls.map((s) => s.rttMs).filter((x): x is number => x !== undefined);
    const drops = (d: DirStats): number => d.dropped_loss + d.dropped_queue + d.dropped_mtu + d.dropped_outage;
    const busy = (d: DirStats): number => (el > 0 ? Math.min(100, d.busy_ms / 10 / el) : 0);
    const lat = traffic.percentiles(30_000);
    const opt = await optimizeCounters(metrics);
    // Disco cache hits are the "answered on the near side" figure below: not repeated here.
    const shown: Array<[string, string]> = [['folds', 'fan-out folds'], ['coalesced', 'presence coalesced'], ['caps_strip', 'caps stripped'], ['presence_folded', 'presence folded']];
    const optText = shown.map(([k, label]) => `${label} ${n(opt[k] ?? 0)}`).join('   ');
    const delivered = traffic.dirs.ab.delivered + traffic.dirs.ba.delivered;
    const dirLine = (d: 'ab' | 'ba', text: string): string =>
      `  ${text}  sent ${n(traffic.dirs[d].sent)}  delivered ${n(traffic.dirs[d].delivered)}  in flight ${n(traffic.inFlight(d))}  (${n(traffic.dirs[d].xml)} B of XML)`;
    const waiting = stall();
    return [
      `satrelay demo  ${profile}: ${rateStr(params.rate_bps)}, ${params.delay_ms} ms one-way, loss ${params.loss ? (params.loss.model === 'bernoulli' ? `${n(params.loss.p * 100, 1)} %` : 'bursty') : 'none'}   ${clock(el)}   offered ${n(rate, 1)} stanzas/s`,
      dirLine('ab', 'a.example -> b.example'),
      dirLine('ba', 'b.example -> a.example'),
      `  bearer        ab ${n(st.ab.bytes_sent)} B (${n(busy(st.ab))} % busy)   ba ${n(st.ba.bytes_sent)} B (${n(busy(st.ba))} % busy)`,
      `  compression   ${compOut ? n(xmlIn / compOut, 1) : '-'}:1  (${n(xmlIn)} B of stanzas -> ${n(compOut)} B)`,
      `  link          retransmits ${n(retx)}   rtt ${rtt.length ? ms(Math.max(...rtt)) : '-'}   emulator drops ${n(drops(st.ab) + drops(st.ba))}, corrupted ${n(st.ab.corrupted_packets + st.ba.corrupted_packets)}`,
      `  latency       p50 ${ms(lat.p50)}   p95 ${ms(lat.p95)}   (last 30 s, ${n(lat.n)} stanzas)`,
      `  waiting       ${waiting ?? 'no stall'}`,
      `  vs plain S2S  ${comparisonLine(profile, { firstStanzaMs: traffic.firstMs, bytesPerStanza: delivered ? (st.ab.bytes_sent + st.ba.bytes_sent) / delivered : undefined }, plain)}`,
      `  optimize      disco answered on the near side (cache hits) ${n(traffic.answeredNear)}   ${optText}`,
      `  errors        bounced ${n(traffic.errors)}, duplicates ${n(traffic.duplicates)}`,
    ];
  };

  const draw = async (): Promise<void> => {
    const out = await snapshot();
    if (tty) {
      // A wrapped line would throw the cursor arithmetic off: cut each to the terminal width.
      const width = Math.max(20, (process.stdout.columns ?? 100) - 1);
      if (lines) process.stdout.write(`\x1b[${lines}A`);
      process.stdout.write(out.map((l) => `\x1b[2K${l.length > width ? l.slice(0, width) : l}\n`).join('') + '\x1b[2K  Ctrl-C to stop\n');
      lines = out.length + 1;
    } else {
      const el = (performance.now() - t0) / 1000;
      const st = world.emulatorStats();
      const lat = traffic.percentiles(30_000);
      const note = out.find((l) => l.startsWith('  waiting ') && !l.endsWith('no stall'));
      process.stdout.write(
        `${clock(el)} ab ${traffic.dirs.ab.delivered}/${traffic.dirs.ab.sent} ba ${traffic.dirs.ba.delivered}/${traffic.dirs.ba.sent} bearer ${st.ab.bytes_sent + st.ba.bytes_sent} B p50 ${ms(lat.p50)} p95 ${ms(lat.p95)} retx ${links.reduce((a, l) => a + l.stats().retransmits, 0)}${note ? ` (${note.trim().replace(/^waiting\s+/, '')})` : ''}\n`,
      );
    }
  };

  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const onSigint = (): void => stop();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  const ui = setInterval(() => void draw().catch(() => {}), 1000);
  const end = Number.isFinite(duration) ? setTimeout(stop, duration * 1000) : undefined;
  await stopped;
  clearInterval(gen);
  clearInterval(ui);
  if (end) clearTimeout(end);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigint);

  const final = await snapshot();
  try {
    await world.stop();
    relayLog.flush?.();
  } finally {
    cleanup();
  }
  process.stdout.write(`\nsummary after ${clock((performance.now() - t0) / 1000)}:\n${final.slice(1).join('\n')}\n${v.keep ? `  relay logs and data kept in ${dir}\n` : ''}`);
  return 0;
}

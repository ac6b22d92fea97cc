/**
 * The soak and fault run: two relays as processes over the UDP emulator, the
 * two sites' XMPP servers played by S2SService peers (src/sim/world.ts), the
 * mixed workload at a steady rate, and faults on a seeded schedule (or a
 * forced list). Every injected stanza goes in the ledger; at the end (faults
 * over, pair drained) each has exactly one outcome. Relay RSS and fd counts
 * are sampled from /proc throughout.
 *
 *   peer a.example ─S2S/TLS─ relay A (process) ~UDP emulator~ relay B (process) ─S2S/TLS─ peer b.example
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { tryMountTmpfs, fillDisk } from './disk.ts';
import { generateKeyText } from '../../src/config/index.ts';
import { loadBearerParams, startUdpEmulator, type UdpEmulatorHandle, type DirStats } from '../../src/emulator/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { DOMAINS, siteYaml, startPeer, worldWithCleanup, makeWorkload, replyFor, freeTcpPort, freeUdpPort, type World, type BenchStanza, type Side } from '../../src/sim/index.ts';
import { CRASH_WINDOW_MS, Ledger, type LedgerVerdict } from './ledger.ts';
import { FaultSchedule, describeFault, FAULT_KINDS, type Fault, type FaultKind } from './faults.ts';
import { RelayProcess, type Incarnation, type Sample } from './relays.ts';
import { ResumeWatch, formatResumes, type OutageResume } from './resume.ts';
import { bearerRttMs, loadProfile } from '../../src/config/index.ts';

export interface SoakOptions {
  durationMs: number;
  profile: string;
  seed: number;
  /** stanzas per second injected (both sides together). */
  rate: number;
  /** forced faults, run in this order from warmup on (then no random ones). */
  faults?: Fault[];
  /** random faults on (default: on unless `faults` is given). */
  randomFaults?: boolean;
  kinds?: readonly FaultKind[];
  /** quiet time between faults, ms (default 20-60 s; forced lists: 2-4 s). */
  gapMs?: [number, number];
  /** no faults before this, ms (default min(30 s, 10 % of the duration)). */
  warmupMs?: number;
  /** longest wait for the pair to drain after the faults, ms (default 300 s). */
  drainMs?: number;
  /** link tuning keys (yaml flow map body), e.g. "keepalive_s: 2". */
  tuning?: string;
  /** size of each relay's data_dir tmpfs, MB (default 32). */
  diskMb?: number;
  /** growth bounds per relay incarnation, baseline to last sample. */
  rssGrowthMb?: number;
  fdGrowth?: number;
  /** ms between /proc samples (default 5 s) and progress lines (default 30 s). */
  sampleMs?: number;
  progressMs?: number;
  log?: (line: string) => void;
  /** keep the run directory (logs, configs) even when the run passes. */
  keepDir?: boolean;
  /** both relays' local.delivery_window (default: the site-file default); the ledger allows as many crash duplicates. */
  deliveryWindow?: number;
}

export interface RelayReport {
  name: 'A' | 'B';
  restarts: number;
  crashes: number;
  start?: Sample;
  middle?: Sample;
  end?: Sample;
  /** worst growth over judged incarnations (baseline to last sample). */
  rssGrowthKb: number;
  fdGrowth: number;
  incarnations: Array<Pick<Incarnation, 'pid' | 'startedAt' | 'endedAt' | 'end'> & { samples: number; baseline?: Sample; last?: Sample; judged: boolean }>;
}

export interface SoakResult {
  options: { durationMs: number; profile: string; seed: number; rate: number; rssGrowthMb: number; fdGrowth: number };
  ledger: LedgerVerdict;
  faults: { injected: Record<string, number>; skipped: string[]; log: Array<{ at: number; fault: string }> };
  relays: RelayReport[];
  emulator: { ab: DirStats; ba: DirStats };
  /** per bearer outage: resume after its return, bytes spent while dark (resume.ts); target 3 RTT + 1 s, ms */
  outages: OutageResume[];
  resumeTargetMs: number;
  /** stanzas not injected because their side's server was down at the time. */
  notInjectedServerDown: number;
  drained: boolean;
  drainMs: number;
  wallMs: number;
  failures: string[];
  ok: boolean;
  dir: string;
}


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** An endless supply of mixed-workload stanzas, each with a fresh unique id. */
class Feed {
  private buf: BenchStanza[] = [];
  private chunk = 0;
  private n = 0;
  constructor(private readonly seed: number) {}
  next(): { from: Side; el: XmlElement } {
    if (this.buf.length === 0) this.buf = makeWorkload('mixed', 500, this.seed * 1000 + this.chunk++);
    const s = this.buf.shift()!;
    const el = s.el.clone().setAttr('id', `soak-${this.seed}-${++this.n}`);
    return { from: s.from, el };
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const forced = o.faults ?? [];
  const randomOn = o.randomFaults ?? forced.length === 0;
  const warmupMs = o.warmupMs ?? Math.min(30_000, o.durationMs / 10);
  const gapMs = o.gapMs ?? (forced.length ? [2_000, 4_000] : [20_000, 60_000]);
  const rssGrowthMb = o.rssGrowthMb ?? 64;
  const fdGrowth = o.fdGrowth ?? 16;
  const sampleMs = o.sampleMs ?? 5_000;
  const progressMs = o.progressMs ?? 30_000;
  const failures: string[] = [];

  const dir = mkdtempSync(join(tmpdir(), 'satrelay-soak-'));
  const { world, cleanup } = worldWithCleanup('relay', dir, false);
  const ledger = new Ledger({ deliveryWindow: o.deliveryWindow });
  const resume = new ResumeWatch();
  const injected: Record<string, number> = {};
  const skipped: string[] = [];
  const faultLog: Array<{ at: number; fault: string }> = [];
  const serverUp: Record<Side, boolean> = { a: true, b: true };
  const mounted: Record<Side, boolean> = { a: false, b: false };
  const dataDir: Record<Side, string> = { a: join(dir, 'data-a'), b: join(dir, 'data-b') };
  let notInjected = 0;
  let emu: UdpEmulatorHandle | undefined;
  const relays = {} as Record<Side, RelayProcess>;
  let result: SoakResult | undefined;

  try {
    // ---- world: peers on fixed ports, emulator, relay configs
    writeFileSync(join(dir, 'link.key'), generateKeyText(), { mode: 0o600 });
    const metrics = new Metrics();
    const port = { peer: { a: await freeTcpPort(), b: await freeTcpPort() }, s2s: { a: await freeTcpPort(), b: await freeTcpPort() }, mon: { a: await freeTcpPort(), b: await freeTcpPort() }, udp: { a: await freeUdpPort(), b: await freeUdpPort() } };
    world.onStanza = (side, el) => {
      const { entry, firstDelivery } = ledger.arrived(side, el, clock());
      if (!entry || !firstDelivery) return;
      resume.arrived(clock());
      const reply = replyFor(el);
      if (reply && serverUp[side]) {
        ledger.sent(side, reply, clock());
        world.send(side, reply);
      }
    };
    world.onUndeliverable = (side, el, condition) => ledger.refusedBySender(side, el, condition);
    const peers = {} as Record<Side, Awaited<ReturnType<typeof startPeer>>>;
    world.peers = peers;
    const routePeer = (side: Side) => {
      const other: Side = side === 'a' ? 'b' : 'a';
      for (const d of DOMAINS[other]) peers[side].setRoute(d, `127.0.0.1:${port.s2s[side]}`);
    };
    for (const side of ['a', 'b'] as const) {
      peers[side] = await startPeer(world, side, dir, metrics, `127.0.0.1:${port.peer[side]}`);
      routePeer(side);
    }
    cleanup.push(async () => void (await Promise.all((['a', 'b'] as const).map((s) => peers[s].stop()))));

    emu = await startUdpEmulator({
      params: loadBearerParams(o.profile),
      seed: o.seed,
      a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${port.udp.a}` },
      b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${port.udp.b}` },
    });
    cleanup.push(() => emu!.close());

    for (const side of ['a', 'b'] as const) {
      mkdirSync(dataDir[side], { recursive: true });
      mounted[side] = tryMountTmpfs(dataDir[side], o.diskMb ?? 32);
      if (mounted[side]) cleanup.push(() => void execFileSync('umount', [dataDir[side]], { stdio: 'ignore' }));
    }
    if (!mounted.a || !mounted.b) skipped.push('disk-full: mount -t tmpfs is not permitted here (needs root); disk-full faults are skipped');

    for (const side of ['a', 'b'] as const) {
      const other: Side = side === 'a' ? 'b' : 'a';
      const name = side === 'a' ? 'A' : 'B';
      const file = join(dir, `relay-${name}.yaml`);
      writeFileSync(
        file,
        siteYaml({
          site: side === 'a' ? 'ship' : 'shore',
          dir: dataDir[side],
          local: DOMAINS[side],
          remote: DOMAINS[other],
          peerAddr: `127.0.0.1:${port.peer[side]}`,
          profile: o.profile,
          bind: `127.0.0.1:${port.udp[side]}`,
          emu: `127.0.0.1:${emu.addresses[side].port}`,
          key: join(dir, 'link.key'),
          listen: `127.0.0.1:${port.s2s[side]}`,
          metrics: `127.0.0.1:${port.mon[side]}`,
          linkExtra: o.tuning ? `    tuning: { ${o.tuning} }\n` : '',
          extra: 'log: { level: info }\n',
          deliveryWindow: o.deliveryWindow,
        }),
      );
      relays[side] = new RelayProcess(name, file, join(dir, `relay-${name}.log`), port.mon[side], clock, (n, code, signal) => {
        failures.push(`relay ${n} exited by itself (code ${code}, signal ${signal}) at ${(clock() / 1000).toFixed(1)} s`);
        log(`!! relay ${n} exited by itself (code ${code}, signal ${signal}); restarting`);
        void relays[side].start().catch((err: Error) => failures.push(`relay ${n} restart after crash failed: ${err.message}`));
      });
    }
    cleanup.push(async () => void (await Promise.all((['a', 'b'] as const).map((s) => relays[s].close()))));
    await Promise.all([relays.a.start(), relays.b.start()]);
    log(`soak: profile ${o.profile}, seed ${o.seed}, ${o.rate} stanzas/s, ${(o.durationMs / 1000).toFixed(0)} s, dir ${dir}`);

    // ---- background: the feed, /proc samples, progress lines
    const feed = new Feed(o.seed);
    let sending = true;
    let credit = 0;
    const feedTimer = setInterval(() => {
      if (!sending) return;
      credit += o.rate / 10;
      for (; credit >= 1; credit--) {
        const { from, el } = feed.next();
        if (!serverUp[from]) {
          notInjected++;
          continue;
        }
        ledger.sent(from, el, clock());
        world.send(from, el);
      }
    }, 100);
    const sampleTimer = setInterval(() => {
      relays.a.sample();
      relays.b.sample();
    }, sampleMs);
    const progress = () => {
      const p = ledger.progress();
      const rss = (['a', 'b'] as const).map((s) => {
        const last = relays[s].current?.samples.at(-1);
        return last ? `${Math.round(last.rssKb / 1024)}MB/${last.fds}fd` : 'down';
      });
      const faults = Object.entries(injected).map(([k, n]) => `${k}=${n}`).join(' ') || 'none';
      log(`[${(clock() / 1000).toFixed(0).padStart(5)} s] sent ${p.sent} delivered ${p.delivered} bounced ${p.bounced} pending ${p.pending} | faults ${faults} | A ${rss[0]} B ${rss[1]}`);
    };
    const progressTimer = setInterval(progress, progressMs);

    // ---- faults
    const runFault = async (f: Fault): Promise<void> => {
      if (f.kind === 'disk-full' && !mounted[f.side]) return;
      const label = `${f.kind}${f.kind === 'outage' || f.kind === 'loss-burst' ? '' : `-${f.side}`}`;
      injected[label] = (injected[label] ?? 0) + 1;
      faultLog.push({ at: Math.round(clock()), fault: describeFault(f) });
      log(`[${(clock() / 1000).toFixed(0).padStart(5)} s] fault: ${describeFault(f)}`);
      const relay = relays[f.side];
      switch (f.kind) {
        case 'outage': {
          const probeBytes = async () => sumOf(await Promise.all([relays.a.metric('satrelay_link_probe_bytes_total'), relays.b.metric('satrelay_link_probe_bytes_total')]));
          const bearerBytes = () => { const s = emu!.stats(); return s.ab.bytes_sent + s.ba.bytes_sent; };
          const p0 = await probeBytes();
          const cut = resume.cut(clock(), f.durationMs, p0, bearerBytes());
          emu!.control.outage(f.durationMs);
          await sleep(f.durationMs);
          resume.restored(cut, await probeBytes(), bearerBytes());
          break;
        }
        case 'loss-burst':
          emu!.control.setLoss({ model: 'bernoulli', p: f.lossP ?? 0.6 });
          await sleep(f.durationMs);
          emu!.control.setLoss(undefined);
          break;
        case 'kill-relay':
          ledger.relayKilled(f.side, clock());
          await relay.kill9();
          await sleep(f.durationMs);
          await relay.start();
          break;
        case 'server-restart': {
          // A graceful restart: clients are gone first (nothing new is injected), and what
          // was sent gets its XEP-0198 acks before the server closes its sessions. Without
          // the pause a stanza the relay took but had not acked yet is bounced by the
          // stopping server and delivered as well (XEP-0198 without resumption).
          serverUp[f.side] = false;
          await sleep(1_000);
          await peers[f.side].stop();
          await sleep(f.durationMs);
          peers[f.side] = await startPeer(world, f.side, dir, metrics, `127.0.0.1:${port.peer[f.side]}`);
          routePeer(f.side);
          serverUp[f.side] = true;
          break;
        }
        case 'disk-full': {
          const filler = join(dataDir[f.side], 'soak-filler');
          const from = clock();
          fillDisk(filler);
          // The bearer is down meanwhile, so the spool has to grow: with traffic
          // flowing, lmdb reuses the pages acknowledged stanzas freed and never
          // needs new disk.
          emu!.control.outage(f.durationMs);
          await sleep(f.durationMs);
          unlinkSync(filler);
          // Results sent a little after the disk was freed may still meet the full spool.
          ledger.refusalWindow(f.side, from, clock() + 2_000);
          break;
        }
      }
    };

    await sleep(warmupMs);
    const endOfFaults = o.durationMs;
    // A forced list runs whole (the duration is then a minimum).
    for (const f of forced) {
      await runFault(f);
      await sleep(gapMs[0] + (gapMs[1] - gapMs[0]) / 2);
    }
    if (randomOn) {
      const sched = new FaultSchedule({ seed: o.seed, startMs: clock(), endMs: endOfFaults, gapMs, kinds: o.kinds });
      for (let next = sched.next(clock()); next; next = sched.next(clock())) {
        await sleep(next.gapMs);
        await runFault(next.fault);
      }
    }
    await sleep(endOfFaults - clock());

    // ---- drain: stop injecting, wait until every stanza has its outcome
    sending = false;
    clearInterval(feedTimer);
    const drainStart = clock();
    const drainMs = o.drainMs ?? 300_000;
    log(`[${(clock() / 1000).toFixed(0).padStart(5)} s] faults over; draining (${ledger.pending()} pending)`);
    let drained = false;
    while (clock() - drainStart < drainMs) {
      if (ledger.pending() === 0) {
        drained = true;
        break;
      }
      await sleep(500);
    }
    await sleep(3_000); // a late duplicate would show up here
    relays.a.sample();
    relays.b.sample();
    clearInterval(sampleTimer);
    clearInterval(progressTimer);
    progress();

    // ---- judge
    const verdict = ledger.verdict();
    const reports = (['a', 'b'] as const).map((s) => relayReport(relays[s], clock(), sampleMs));
    if (!verdict.ok) failures.push(`ledger: lost ${verdict.lost}, duplicated ${verdict.duplicated}, delivered+bounced ${verdict.deliveredAndBounced}, bounced twice ${verdict.bouncedTwice}`);
    if (!drained) failures.push(`the pair did not drain within ${Math.round(drainMs / 1000)} s (${ledger.pending()} pending)`);
    for (const r of reports) {
      if (r.rssGrowthKb > rssGrowthMb * 1024) failures.push(`relay ${r.name}: RSS grew ${Math.round(r.rssGrowthKb / 1024)} MB (bound ${rssGrowthMb} MB)`);
      if (r.fdGrowth > fdGrowth) failures.push(`relay ${r.name}: open fds grew by ${r.fdGrowth} (bound ${fdGrowth})`);
    }
    if (forced.length) {
      for (const f of forced) {
        if (f.kind === 'disk-full' && !mounted[f.side]) continue;
        const label = `${f.kind}${f.kind === 'outage' || f.kind === 'loss-burst' ? '' : `-${f.side}`}`;
        if (!injected[label]) failures.push(`forced fault ${label} was not injected`);
      }
    }
    result = {
      options: { durationMs: o.durationMs, profile: o.profile, seed: o.seed, rate: o.rate, rssGrowthMb, fdGrowth },
      ledger: verdict,
      faults: { injected, skipped, log: faultLog },
      relays: reports,
      emulator: emu.stats(),
      outages: resume.outages,
      resumeTargetMs: 3 * bearerRttMs(loadProfile(o.profile).bearer) + 1000,
      notInjectedServerDown: notInjected,
      drained,
      drainMs: Math.round(clock() - drainStart),
      wallMs: Math.round(clock()),
      failures,
      ok: failures.length === 0,
      dir,
    };
    return result;
  } finally {
    await world.stop();
    if (result?.ok && !o.keepDir) rmSync(dir, { recursive: true, force: true });
    else if (!result) {
      for (const s of ['a', 'b'] as const) if (mounted[s]) try { execFileSync('umount', [dataDir[s]], { stdio: 'ignore' }); } catch { /* gone */ }
    }
  }
}

/**
 * Per relay: start / middle / end samples over the whole run, and growth per
 * incarnation that lived long enough to judge (baseline: the first sample
 * taken at least two sample periods after its start; last: its last sample).
 */
function relayReport(r: RelayProcess, now: number, sampleMs: number): RelayReport {
  const all = r.incarnations.flatMap((i) => i.samples);
  const mid = now / 2;
  const middle = all.reduce<Sample | undefined>((best, s) => (!best || Math.abs(s.at - mid) < Math.abs(best.at - mid) ? s : best), undefined);
  let rssGrowthKb = 0;
  let fds = 0;
  const incarnations = r.incarnations.map((inc) => {
    const baseline = inc.samples.find((s) => s.at >= inc.startedAt + 2 * sampleMs);
    const last = inc.samples.at(-1);
    const judged = baseline !== undefined && last !== undefined && last.at - baseline.at >= 4 * sampleMs;
    if (judged) {
      rssGrowthKb = Math.max(rssGrowthKb, last.rssKb - baseline.rssKb);
      fds = Math.max(fds, last.fds - baseline.fds);
    }
    return { pid: inc.pid, startedAt: Math.round(inc.startedAt), endedAt: inc.endedAt === undefined ? undefined : Math.round(inc.endedAt), end: inc.end, samples: inc.samples.length, baseline, last, judged };
  });
  return {
    name: r.name,
    restarts: r.incarnations.length - 1,
    crashes: r.incarnations.filter((i) => i.end === 'crashed').length,
    start: r.incarnations[0]?.samples.find((s) => s.at >= r.incarnations[0].startedAt + 2 * sampleMs) ?? r.incarnations[0]?.samples[0],
    middle,
    end: all.at(-1),
    rssGrowthKb,
    fdGrowth: fds,
    incarnations,
  };
}

/** The summary table printed at the end. */
export function formatSoakSummary(r: SoakResult): string {
  const v = r.ledger;
  const mb = (s?: Sample) => (s ? `${(s.rssKb / 1024).toFixed(1)} MB / ${s.fds} fd` : '-');
  const lines = [
    `soak summary: profile ${r.options.profile}, seed ${r.options.seed}, ${r.options.rate}/s, ${(r.options.durationMs / 1000).toFixed(0)} s of faults, drain ${(r.drainMs / 1000).toFixed(1)} s${r.drained ? '' : ' (NOT drained)'}, wall ${(r.wallMs / 1000).toFixed(0)} s`,
    '',
    `  sent                      ${v.sent}  (message ${v.byKind.message}, presence ${v.byKind.presence}, iq ${v.byKind.iq}, iq result ${v.byKind.result})`,
    `  delivered exactly once    ${v.delivered}`,
    `  answered near (cache)     ${v.answeredNear}`,
    `  bounced with an error     ${v.bounced}  (by design: ${v.bouncedByDesign})`,
    ...Object.entries(v.bouncedBy).sort().map(([k, n]) => `      ${k.padEnd(40)} ${n}`),
    `  superseded presence       ${v.superseded}`,
    `  iq results refused (unanswerable by RFC 6120 §8.3) ${v.unanswerableRefusals}`,
    `  LOST                      ${v.lost}`,
    `  DUPLICATED                ${v.duplicated}${v.crashWindowDuplicates ? ` (${v.crashWindowDuplicates} by a relay killed within ${CRASH_WINDOW_MS} ms of the first delivery: the crash window README documents)` : ''}`,
    `  delivered AND bounced     ${v.deliveredAndBounced}`,
    `  bounced twice             ${v.bouncedTwice}`,
    `  unexpected arrivals       ${v.unexpected}`,
    `  not injected (server down) ${r.notInjectedServerDown}`,
    '',
    `  faults injected: ${Object.entries(r.faults.injected).sort().map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`,
    ...formatResumes(r.outages, r.resumeTargetMs),
    ...r.faults.skipped.map((s) => `  skipped: ${s}`),
    '',
    '  relay  restarts crashes  start                middle               end                  worst growth (judged incarnations)',
    ...r.relays.map(
      (x) =>
        `  ${x.name}      ${String(x.restarts).padEnd(8)} ${String(x.crashes).padEnd(8)} ${mb(x.start).padEnd(20)} ${mb(x.middle).padEnd(20)} ${mb(x.end).padEnd(20)} RSS +${(x.rssGrowthKb / 1024).toFixed(1)} MB, fds +${x.fdGrowth} (${x.incarnations.filter((i) => i.judged).length}/${x.incarnations.length})`,
    ),
    `  bounds: RSS growth <= ${r.options.rssGrowthMb} MB, fd growth <= ${r.options.fdGrowth} per incarnation`,
    '',
  ];
  for (const [what, list] of Object.entries(v.examples)) lines.push(`  e.g. ${what}:`, ...list.map((l) => `    ${l}`));
  lines.push(r.ok ? 'RESULT: PASS' : `RESULT: FAIL\n${r.failures.map((f) => `  - ${f}`).join('\n')}\n  logs and configs kept in ${r.dir}`);
  return lines.join('\n');
}

/** Both relays' values of a metric; undefined if either did not answer. */
function sumOf(xs: Array<number | undefined>): number | undefined {
  return xs.some((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + x!, 0);
}

export { FAULT_KINDS };

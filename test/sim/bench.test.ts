/**
 * Short benchmark runs over real sockets (relay pair + built-in S2S peers,
 * UDP/TCP emulators on 127.0.0.1): through runBench and through the CLI
 * (`satrelay bench ... --json`). Figures are checked for shape and for
 * delivery (nothing lost or duplicated), never as timings.
 */
import test, { type ExecutionContext } from 'ava';
import { runBench, warmupFor, makeWorkload, replyFor, startBaselineWorld, siteYaml, BenchError, WORKLOADS, type BenchResult, type ExtraBaseline, type Figures } from '../../src/sim/index.ts';
import { XmlElement } from '../../src/xml/element.ts';
import { parseXml } from '../../src/xml/parser.ts';
import { verifyCapsVer } from '../../src/optimize/index.ts';
import { runSatrelay } from '../helpers/cli.ts';
import { parseSiteConfig } from '../../src/config/index.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


function checkFigures(t: ExecutionContext, f: Figures, what: string, stanzas: number): void {
  for (const k of ['stanzas', 'delivered', 'lost', 'duplicated', 'reordered', 'errors', 'answered_near', 'xml_bytes', 'link_bytes', 'bytes_per_stanza', 'goodput_bps', 'link_utilization', 'bearer_busy', 'transfer_ms'] as const) {
    t.is(typeof f[k], 'number', `${what}.${k} is a number`);
    t.true(Number.isFinite(f[k]) && f[k] >= 0, `${what}.${k} = ${f[k]}`);
  }
  t.true(f.bearer_busy >= f.link_utilization && f.bearer_busy <= 1, `${what}: busy less the one-way delay (${f.bearer_busy}) is at least busy over the whole burst (${f.link_utilization})`);
  t.is(typeof f.first_stanza_ms, 'number', `${what}.first_stanza_ms`);
  t.true(f.header_bytes === null || typeof f.header_bytes === 'number', `${what}.header_bytes`);
  for (const k of ['p50', 'p95', 'p99', 'max'] as const) t.is(typeof f.latency_ms[k], 'number', `${what}.latency_ms.${k}`);
  t.true(f.latency_ms.p50 <= f.latency_ms.p95 && f.latency_ms.p95 <= f.latency_ms.p99 && f.latency_ms.p99 <= f.latency_ms.max, `${what} percentiles ordered`);
  t.is(f.stanzas, stanzas);
  t.is(f.lost, 0, `${what}: nothing lost`);
  t.is(f.duplicated, 0, `${what}: nothing duplicated`);
  t.is(f.errors, 0, `${what}: nothing bounced`);
  t.is(f.delivered, stanzas, `${what}: everything delivered`);
  t.true(f.xml_bytes > 0 && f.link_bytes > 0 && f.goodput_bps > 0, `${what}: bytes moved`);
  t.is(f.responses.received, f.responses.sent, `${what}: every iq answer came back`);
}

function checkResult(t: ExecutionContext, r: BenchResult, profile: string, workload: string, stanzas: number): void {
  t.is(r.profile, profile);
  t.is(r.workload, workload);
  t.is(r.baseline_kind, 'builtin');
  t.is(r.optimize, 'on');
  checkFigures(t, r, 'relay', stanzas);
  t.truthy(r.baseline, 'baseline present');
  checkFigures(t, r.baseline!, 'baseline', stanzas);
  t.is(typeof r.header_bytes, 'number', 'the relay reports link header bytes');
  // Each relay runs in its own process: its own CPU time and memory, as the OS counts them.
  for (const side of ['a', 'b'] as const) {
    const x = r.relays?.[side];
    t.truthy(x, `relay ${side} figures`);
    t.true(x!.cpu_ms > 0 && x!.cpu_us_per_stanza > 0, `relay ${side} used CPU in the burst: ${JSON.stringify(x)}`);
    t.true(Math.abs(x!.cpu_us_per_stanza - (x!.cpu_ms * 1000) / (stanzas - 1)) <= 0.1 + 60 / (stanzas - 1), `relay ${side}: per stanza of the burst (cpu_ms rounded to 0.1 ms)`);
    t.true(x!.rss_max_mb > 10 && x!.rss_max_mb < 4096, `relay ${side} peak RSS ${x!.rss_max_mb} MB`);
  }
  t.true(r.stanzas_per_s! > 0 && r.baseline!.stanzas_per_s! > 0, 'stanzas per second, relay and baseline');
  t.is(r.baseline!.relays, undefined, 'the baseline has no relays');
  t.true(r.header_bytes! < r.link_bytes, 'headers are part of the bearer bytes');
  // Same workload both ways: the same XML crossed.
  t.is(r.xml_bytes, r.baseline!.xml_bytes);
}

test('workloads are seeded, tracked by unique keys, and mixed is mostly presence', (t) => {
  for (const w of WORKLOADS) {
    const a = makeWorkload(w, 120, 7);
    const b = makeWorkload(w, 120, 7);
    t.is(a.length, 120, w);
    t.deepEqual(a.map((s) => s.el.toString()), b.map((s) => s.el.toString()), `${w} is reproducible`);
    t.is(new Set(a.map((s) => s.key)).size, 120, `${w}: keys are unique`);
    t.is(a[0].from, 'a', `${w}: the cold probe goes from a.example`);
  }
  const mixed = makeWorkload('mixed', 1000, 3);
  const share = (k: string): number => mixed.filter((s) => s.kind === k).length / mixed.length;
  t.true(Math.abs(share('presence') - 0.7) < 0.02 && Math.abs(share('message') - 0.2) < 0.02 && Math.abs(share('iq') - 0.1) < 0.02);
  const muc = makeWorkload('muc', 20, 1);
  const strip = (el: XmlElement): string => el.toString().replace(/ to="[^"]*"/, '');
  t.is(strip(muc[0].el), strip(muc[9].el), 'MUC copies differ only in `to`');
  t.not(muc[0].el.attr('to'), muc[9].el.attr('to'));
  const q = makeWorkload('disco', 5, 1)[0].el;
  const r = replyFor(q)!;
  t.is(r.attr('id'), q.attr('id'));
  t.is(r.attr('type'), 'result');
  t.truthy(r.toString().includes('<identity'), 'a disco#info answer for a known caps node');
  // The advertised vers are real XEP-0115 hashes of what the clients answer (checked on re-parsed XML).
  const vers = new Set(makeWorkload('presence-storm', 200, 2).map((s) => /ver="([^"]+)"/.exec(s.el.toString())![1]));
  t.is(vers.size, 3, 'three client kinds, three vers');
  const discoList = makeWorkload('disco', 30, 4);
  for (const s of discoList.filter((x) => x.kind === 'iq')) {
    const node = /node="([^"]+)"/.exec(s.el.toString())![1];
    const answer = parseXml(replyFor(s.el)!.toString());
    const query = answer.children.find((c): c is XmlElement => typeof c !== 'string')!;
    t.truthy(verifyCapsVer(query, node.split('#')[1]), `ver of ${node} verifies`);
  }
  // XEP-0115 §6.2: every client asked about (but the cold probe's) has sent its presence across before the query.
  const present = new Set(discoList.filter((x) => x.kind === 'presence').map((x) => `${x.el.attr('from')}\n${x.from}`));
  for (const q of discoList.slice(1).filter((x) => x.kind === 'iq')) t.true(present.has(`${q.el.attr('to')}\n${q.from === 'a' ? 'b' : 'a'}`), `presence of ${q.el.attr('to')} first`);
  t.true(discoList.every((x) => x.kind !== 'presence' || x.wave === 1) && discoList.slice(1).every((x) => x.kind !== 'iq' || (x.wave ?? 0) >= 2), 'presence in wave 1, queries after');
});

test.serial('runBench: chat on lan, relay pair and plain S2S, nothing lost or duplicated', async (t) => {
  t.timeout(60_000);
  const r = await runBench({ profile: 'lan', workload: 'chat', stanzas: 40, seed: 11, baseline: 'builtin' });
  checkResult(t, r, 'lan', 'chat', 40);
  t.true(r.compression_ratio! > 1, `compressed: ${r.compression_ratio}`);
  t.true(r.bytes_per_stanza < r.baseline!.bytes_per_stanza, 'the relay puts fewer bytes on the bearer');
});

test('the default warm-up: as many chat stanzas as the burst, at most about 3 s of the line; none below 100, nor in metered, outage or NAT runs', async (t) => {
  const { loadBearerParams } = await import('../../src/emulator/index.ts');
  const lan = loadBearerParams('lan');
  t.is(warmupFor(lan, 20_000, false), 20_000, 'lan: the whole burst again');
  t.is(warmupFor(lan, 40, false), 0, 'a burst of 40 gets none');
  t.is(warmupFor(lan, 20_000, true), 0, 'a metered, outage or NAT run gets none: its counters cover the whole run');
  t.is(warmupFor(loadBearerParams('vsat-1m'), 6000, false), 5859, '1 Mbit/s: 3 s of line at 64 B a stanza');
  t.is(warmupFor(loadBearerParams('milsatcom-9600'), 6000, false), 0, '9600 bit/s: too slow for 100');
});

test.serial('runBench with a warm-up: both paths carry it first, the figures count only the measured burst', async (t) => {
  t.timeout(60_000);
  const r = await runBench({ profile: 'lan', workload: 'mixed', stanzas: 40, seed: 3, baseline: 'builtin', warmup: 30 });
  checkResult(t, r, 'lan', 'mixed', 40);
  for (const [what, f] of [['the relay pair', r], ['plain S2S', r.baseline!]] as const) {
    const w = f.warmup!;
    t.like(w, { stanzas: 30, delivered: 30, duplicated: 0 }, `${what} carried the warm-up`);
    t.true(w.link_bytes_ab > 0 && w.link_bytes_ba > 0, `${what}: its bearer bytes are kept apart: ${JSON.stringify(w)}`);
  }
  t.true(r.warmup!.links!.stanzaBytesIn > 0 && r.warmup!.links!.headerBytes > 0, 'and the relays\' link counters during it');
  t.truthy(r.notes.some((n) => /warm-up: .* 30 chat stanzas/.test(n)), 'a note says so');
  const cold = await runBench({ profile: 'lan', workload: 'mixed', stanzas: 40, seed: 3, baseline: 'none', warmup: 0 });
  t.is(cold.warmup, undefined, '--warmup 0: a cold start');
  t.false(cold.notes.some((n) => /warm-up/.test(n)));
  // The warm-up's bytes are not the run's: the same 40 stanzas cost about what they cost cold
  // (a little less: the link's compression context has seen chat before).
  t.true(r.link_bytes < cold.link_bytes * 1.2, `warm ${r.link_bytes} B against cold ${cold.link_bytes} B for the same stanzas`);
  t.true(r.header_bytes! < cold.header_bytes! * 1.5, `headers: warm ${r.header_bytes} against cold ${cold.header_bytes}`);
});

test.serial('satrelay bench --json --out DIR: mixed on lan prints exactly one JSON object and writes it with its chart', async (t) => {
  t.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-bench-out-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outDir = join(dir, 'results');
  const { code, out, err } = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'mixed', '--stanzas', '40', '--seed', '5', '--json', '--out', outDir], t);
  t.is(code, 0, err);
  const lines = out.trim().split('\n');
  t.is(lines.length, 1, 'one line on stdout');
  const r = JSON.parse(lines[0]) as BenchResult;
  checkResult(t, r, 'lan', 'mixed', 40);
  t.deepEqual(JSON.parse(readFileSync(join(outDir, 'lan-mixed.json'), 'utf8')), r, 'the file holds the same result');
  const svg = readFileSync(join(outDir, 'lan-mixed.svg'), 'utf8');
  const { XMLValidator } = await import('fast-xml-parser');
  t.is(XMLValidator.validate(svg), true);
  t.regex(svg, /satrelay bench: lan/);
  t.regex(err, /wrote .*lan-mixed\.json and .*lan-mixed\.svg/, 'says where the files went');
});

test('chart ticks fall on round values (1, 2 or 5 times a power of ten)', async (t) => {
  const { niceTicks } = await import('../../src/sim/chart.ts');
  t.deepEqual(niceTicks(17_500), [0, 5000, 10_000, 15_000, 20_000]);
  t.deepEqual(niceTicks(1030), [0, 500, 1000, 1500]);
  t.deepEqual(niceTicks(0.93), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  for (const max of [1, 4.4, 13, 466, 933, 8800, 13_000, 2_273_000, 0.07]) {
    const ticks = niceTicks(max);
    const step = ticks[1];
    t.true(ticks[ticks.length - 1] >= max && ticks.length >= 3 && ticks.length <= 7, `${max}: ${ticks.join(' ')}`);
    t.regex(step.toExponential(), /^[125]e/, `${max}: step ${step}`);
  }
});

test('satrelay bench refuses bad arguments with a usage message', async (t) => {
  const { code, err } = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'nope'], t);
  t.is(code, 2);
  t.regex(err, /unknown workload "nope"/);
  const w = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--warmup', 'some'], t);
  t.is(w.code, 2);
  t.regex(w.err, /--warmup.*a whole number \(0: none\)/);
});

test('satrelay bench --delivery-window: a whole number from 1 to 1024, written into both relays\' site files', async (t) => {
  const { code, err } = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--delivery-window', '0'], t);
  t.is(code, 2);
  t.regex(err, /--delivery-window.*a whole number from 1 to 1024/);
  const yaml = siteYaml({ site: 'ship', dir: '/tmp/x', local: ['a.example'], remote: ['b.example'], peerAddr: '127.0.0.1:5269', profile: 'lan', bind: '127.0.0.1:5298', emu: '127.0.0.1:5299', key: 'k.key', deliveryWindow: 16 });
  t.is(parseSiteConfig(yaml, 'ship.yaml', { checkKeyFiles: false }).local.delivery_window, 16);
});

test('the shipped satrelay bench offers builtin and none; the Prosody baseline is pointed to the checkout script', async (t) => {
  const prosody = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--baseline', 'prosody'], t);
  t.is(prosody.code, 2);
  t.regex(prosody.err, /--baseline must be builtin or none \(the Prosody baseline runs from a checkout: npx tsx bench\/cli\.ts/);
  const bogus = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--baseline', 'bogus'], t);
  t.is(bogus.code, 2);
  t.regex(bogus.err, /--baseline must be builtin or none$/m);
});

test.serial('runBench with a caller-supplied baseline: it is checked first, measured like the built-in one, and named in the result', async (t) => {
  t.timeout(60_000);
  const started: number[] = [];
  const mine: ExtraBaseline = {
    kind: 'mine',
    title: 'my S2S',
    check: (w) => {
      if (w !== 'chat') throw new BenchError('BENCH_UNSUPPORTED', `mine supports chat only (got ${w})`);
    },
    start: async (o) => {
      started.push(o.seed);
      return startBaselineWorld({ profile: 'lan', seed: o.seed, params: o.params, tmpDir: o.tmpDir });
    },
    note: 'baseline: mine, the built-in peers under another name',
  };
  const refused = await t.throwsAsync(runBench({ profile: 'lan', workload: 'muc', stanzas: 5, baseline: mine }));
  t.is((refused as BenchError).code, 'BENCH_UNSUPPORTED');
  t.deepEqual(started, [], 'refused before any world started');
  const r = await runBench({ profile: 'lan', workload: 'chat', stanzas: 20, seed: 3, baseline: mine });
  t.deepEqual(started, [3]);
  t.is(r.baseline_kind, 'mine');
  t.true(r.notes.includes(mine.note));
  checkFigures(t, r.baseline!, 'baseline', 20);
  t.is(r.xml_bytes, r.baseline!.xml_bytes);
});

test('the per-profile SVG chart is well-formed XML with a relay and a baseline bar per workload and panel', async (t) => {
  const { chartSvg } = await import('../../src/sim/chart.ts');
  const { XMLValidator } = await import('fast-xml-parser');
  const fig = (first: number, bps: number, goodput: number) => ({
    stanzas: 10, delivered: 10, lost: 0, duplicated: 0, reordered: 0, errors: 0, answered_near: 0, responses: { sent: 0, received: 0 },
    xml_bytes: 4000, link_bytes: 10 * bps, link_bytes_ab: 5 * bps, link_bytes_ba: 5 * bps, header_bytes: null, bytes_per_stanza: bps,
    goodput_bps: goodput, link_utilization: 0.5, bearer_busy: 0.6, stanzas_per_s: 100, latency_ms: { p50: 1, p95: 2, p99: 3, max: 4 }, first_stanza_ms: first, transfer_ms: 100,
    emulator: { dropped: 0, corrupted: 0, duplicated: 0, reordered: 0 },
  });
  const results = ['chat', 'muc'].map((w) => ({
    ...fig(800, 90, 50_000), profile: 'p<&>', workload: w, seed: 1, bearer: { rate_bps: 9600, delay_ms: 300, loss: 'none', duplex: 'full' },
    baseline_kind: 'builtin' as const, optimize: 'on' as const, baseline: fig(16_000, 480, 16_000), ratios: null, notes: [], started_at: '', duration_s: 1,
  }));
  const svg = chartSvg('p<&>', results as unknown as BenchResult[]);
  t.is(XMLValidator.validate(svg), true);
  t.is((svg.match(/<rect [^>]*fill="#1f77b4"><title>/g) ?? []).length, 2 * 3, 'relay bars: 2 workloads x 3 panels');
  t.is((svg.match(/<rect [^>]*fill="#d62728"><title>/g) ?? []).length, 2 * 3, 'baseline bars');
  t.regex(svg, /20x better/, 'first stanza ratio 16 s / 800 ms');
  t.regex(svg, /p&lt;&amp;&gt;/, 'names are escaped');
  // Axis labels are round numbers (the old ones read 4.4 s, 8.8 s, 13 s and 466 B, 933 B): per panel,
  // evenly spaced by 1, 2 or 5 times a power of ten.
  const unit: Record<string, number> = { ms: 1, s: 1000, B: 1, k: 1e3, M: 1e6, '': 1 };
  const panels: number[][] = [[], [], []];
  const labels: string[] = [];
  for (const [, panel, l] of svg.matchAll(/class="tick" data-panel="(\d)">([^<]+)</g)) {
    const m = /^([\d.]+) ?(ms|s|B|k|M)?$/.exec(l);
    t.truthy(m, l);
    labels.push(l);
    panels[Number(panel)].push(Number(m![1]) * unit[m![2] ?? '']);
  }
  t.true(panels.every((p) => p.length >= 2), labels.join(', '));
  for (const ticks of panels) {
    const step = ticks[0];
    t.regex(step.toExponential(), /^[125]e/, `step of ${ticks.join(', ')}`);
    ticks.forEach((v, i) => t.true(Math.abs(v - (i + 1) * step) < step * 1e-9, `${ticks.join(', ')} evenly spaced`));
  }
  // Goodput above the bearer: the chart draws the bearer rate and says why (compression).
  t.regex(svg, /dashed line: the bearer rate, 9\.6 kbit\/s/);
  t.regex(svg, /compress[\s\S]*more XML per second than the bearer rate/);
});

test('the README figure table has a row per run, slowest bearer first, with stanzas per second and each relay\'s CPU', async (t) => {
  const { markdownTable } = await import('../../bench/table.ts');
  const run = (profile: string, rate: number, cpu: number) => ({
    profile, workload: 'chat', stanzas: 100, bearer: { rate_bps: rate, delay_ms: 300, loss: 'none', duplex: 'full' },
    first_stanza_ms: 500, bytes_per_stanza: 50.4, goodput_bps: 2_000_000, stanzas_per_s: 4321, bearer_busy: 0.914, link_utilization: 0.5,
    relays: { a: { cpu_ms: 1, cpu_us_per_stanza: cpu, rss_max_mb: 1 }, b: { cpu_ms: 1, cpu_us_per_stanza: cpu + 1, rss_max_mb: 1 } },
    lost: 0, duplicated: 0,
    baseline: { first_stanza_ms: 10_000, bytes_per_stanza: 400, goodput_bps: 100_000, stanzas_per_s: 200, lost: 0, duplicated: 0 },
  });
  const fast = { ...run('fast', 1e9, 88.4), warmup: { stanzas: 100, delivered: 99, duplicated: 0 } };
  const md = markdownTable([fast, run('slow', 2400, 300)] as unknown as BenchResult[]).trim().split('\n');
  t.is(md.length, 4, 'header, rule, two rows');
  t.regex(md[0], /stanzas\/s: relay \/ S2S .* relay CPU µs per stanza: A \/ B/);
  t.regex(md[2], /^\| slow \| chat \| 100 \| 500 ms \/ 10\.0 s \(20×\) \| 50\.4 \/ 400 \(7\.9×\) \| 2000 \/ 100 kbit\/s \| 4321 \/ 200 \| 91 % \| 300 \/ 301 \| 0 \/ 0 \|$/);
  t.regex(md[3], /^\| fast \| chat \| 100 \(warm-up 100\) \|.* \| 88 \/ 89 \| 0 \/ 0 \(warm-up 1 \/ 0\) \|$/, 'the warm-up, and what it lost');
});

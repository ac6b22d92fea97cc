/**
 * The README's figure table, made from `npm run bench` results
 * (bench/results/<profile>-<workload>.json), one row per run.
 */
import { warmupLost, type BenchResult, type Warmup } from '../src/sim/index.ts';

const secs = (n: number | null | undefined): string => (n === null || n === undefined ? 'never' : n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
const sig = (n: number): string => (n >= 100 ? String(Math.round(n)) : n.toFixed(1));
const kbit = (bps: number): string => { const k = bps / 1000; return k >= 10 ? String(Math.round(k)) : k.toFixed(1); };
/** b / a as "(N×)": whole above 10, else one decimal. */
const times = (a: number | null | undefined, b: number | null | undefined): string => {
  if (!a || !b) return '';
  const r = b / a;
  return ` (${r >= 10 ? Math.round(r) : r.toFixed(1)}×)`;
};
const rate = (n: number | undefined): string => (n === undefined ? '–' : n >= 10 ? String(Math.round(n)) : String(n));

/** Stanzas the warm-up lost or duplicated, when any (relay pair, then S2S). */
function warmLoss(r: BenchResult): string {
  const w = (f: { warmup?: Warmup } | null): string => (f?.warmup && warmupLost(f.warmup) ? `${f.warmup.stanzas - f.warmup.delivered} / ${f.warmup.duplicated}` : '');
  const a = w(r), b = w(r.baseline);
  return a || b ? ` (warm-up ${a || '0 / 0'}${b ? `, S2S ${b}` : ''})` : '';
}

const WORKLOAD_ORDER = ['chat', 'presence-storm', 'muc', 'disco', 'mixed', 'labelled-chat'];

/** One markdown row per result, slowest bearer first, workloads in their usual order. */
export function markdownTable(all: BenchResult[]): string {
  const results = [...all].sort((x, y) => x.bearer.rate_bps - y.bearer.rate_bps || x.profile.localeCompare(y.profile) || WORKLOAD_ORDER.indexOf(x.workload) - WORKLOAD_ORDER.indexOf(y.workload));
  const head = [
    'profile', 'workload', 'stanzas', 'first stanza: relay / S2S', 'bearer bytes per stanza: relay / S2S', 'goodput (XML): relay / S2S',
    'stanzas/s: relay / S2S', 'bearer busy (relay)', 'relay CPU µs per stanza: A / B', 'lost / duplicated',
  ];
  const rows = results.map((r) => {
    const b = r.baseline;
    const cpu = r.relays ? `${Math.round(r.relays.a.cpu_us_per_stanza)} / ${Math.round(r.relays.b.cpu_us_per_stanza)}` : '–';
    return [
      r.profile, r.workload, `${r.stanzas}${r.warmup ? ` (warm-up ${r.warmup.stanzas})` : ''}`,
      `${secs(r.first_stanza_ms)} / ${b ? secs(b.first_stanza_ms) : '–'}${times(r.first_stanza_ms, b?.first_stanza_ms)}`,
      `${sig(r.bytes_per_stanza)} / ${b ? sig(b.bytes_per_stanza) : '–'}${times(r.bytes_per_stanza, b?.bytes_per_stanza)}`,
      `${kbit(r.goodput_bps)} / ${b ? kbit(b.goodput_bps) : '–'} kbit/s`,
      `${rate(r.stanzas_per_s)} / ${rate(b?.stanzas_per_s)}`,
      `${Math.round((r.bearer_busy ?? r.link_utilization) * 100)} %`,
      cpu,
      `${r.lost} / ${r.duplicated}${b && (b.lost || b.duplicated) ? ` (S2S ${b.lost} / ${b.duplicated})` : ''}${warmLoss(r)}`,
    ];
  });
  const line = (c: string[]): string => `| ${c.join(' | ')} |\n`;
  return line(head) + line(head.map(() => '---')) + rows.map(line).join('');
}

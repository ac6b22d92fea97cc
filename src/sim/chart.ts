/**
 * A hand-written SVG chart per profile: three panels (first-stanza time,
 * bytes per stanza, goodput), one pair of bars per workload, relay pair vs
 * plain S2S, each bar labelled with its value. Axis ticks fall on round
 * values (1-2-5 steps); the goodput panel marks the bearer rate and says why
 * the relay's goodput can exceed it. No packages.
 */
import type { BenchResult } from './bench.ts';
import type { Figures } from './measure.ts';
import { niceTicks } from '../obs/ticks.ts';

export { niceTicks };

const RELAY = '#1f77b4';
const BASE = '#d62728';

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface Panel {
  title: string;
  unit: string;
  value: (f: Figures) => number | null;
  fmt: (n: number) => string;
  better: 'lower' | 'higher';
}

/** Three significant digits (whole numbers from 1000), no trailing zeros: 702, 15.6, 0.25, 1665 (ticks are round already). */
const sig = (x: number): string => String(x >= 1000 ? Math.round(x) : Number(x.toPrecision(3)));
const fmtS = (ms: number): string => (ms >= 1000 ? `${sig(ms / 1000)} s` : `${sig(ms)} ms`);
const fmtB = (b: number): string => `${sig(b)} B`;
const fmtR = (bps: number): string => (bps >= 1e6 ? `${sig(bps / 1e6)} M` : bps >= 1e3 ? `${sig(bps / 1e3)} k` : sig(bps));

const PANELS: Panel[] = [
  { title: 'First stanza, cold', unit: 'time (lower is better)', value: (f) => f.first_stanza_ms, fmt: fmtS, better: 'lower' },
  { title: 'Bytes on the bearer per stanza', unit: 'bytes (lower is better)', value: (f) => f.bytes_per_stanza, fmt: fmtB, better: 'lower' },
  { title: 'Goodput (stanza XML delivered)', unit: 'bit/s (higher is better)', value: (f) => f.goodput_bps, fmt: fmtR, better: 'higher' },
];

export function chartSvg(profile: string, results: BenchResult[]): string {
  const W = 980;
  const panelH = 230;
  const top = 70;
  const left = 70;
  const plotW = W - left - 30;
  const H = top + PANELS.length * (panelH + 40) + 30;
  const r0 = results[0];
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const rate = r0.bearer.rate_bps >= 1e6 ? `${r0.bearer.rate_bps / 1e6} Mbit/s` : r0.bearer.rate_bps >= 1e3 ? `${r0.bearer.rate_bps / 1e3} kbit/s` : `${r0.bearer.rate_bps} bit/s`;
  out.push(`<text x="${left}" y="26" font-size="18" font-weight="bold">satrelay bench: ${esc(profile)}</text>`);
  out.push(`<text x="${left}" y="46" fill="#444">${esc(`${rate}, ${r0.bearer.delay_ms} ms one-way, loss ${r0.bearer.loss}${r0.bearer.duplex === 'half' ? ', half duplex' : ''}; seed ${r0.seed}`)}</text>`);
  // Legend.
  out.push(`<rect x="${W - 260}" y="16" width="12" height="12" fill="${RELAY}"/><text x="${W - 243}" y="27">relay pair</text>`);
  out.push(`<rect x="${W - 160}" y="16" width="12" height="12" fill="${BASE}"/><text x="${W - 143}" y="27">plain S2S</text>`);

  PANELS.forEach((p, i) => {
    const y0 = top + i * (panelH + 40);
    const plotTop = y0 + 24;
    const plotH = panelH - 50;
    const base = plotTop + plotH;
    out.push(`<text x="${left}" y="${y0 + 12}" font-size="14" font-weight="bold">${esc(p.title)}</text>`);
    out.push(`<text x="${left + plotW}" y="${y0 + 12}" text-anchor="end" fill="#666">${esc(p.unit)}</text>`);
    const vals = results.flatMap((r) => [p.value(r), r.baseline ? p.value(r.baseline) : null]).filter((v): v is number => v !== null && Number.isFinite(v));
    // The goodput panel also shows the bearer rate, so the axis must reach it.
    const rateLine = p.better === 'higher' ? r0.bearer.rate_bps : undefined;
    const ticks = niceTicks(Math.max(...vals, rateLine ?? 0, 1e-9) * 1.08);
    const max = ticks[ticks.length - 1];
    for (const [g, tv] of ticks.entries()) {
      const gy = base - (tv / max) * plotH;
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${gy.toFixed(1)}" y2="${gy.toFixed(1)}" stroke="${g ? '#eee' : '#999'}"/>`);
      if (g) out.push(`<text x="${left - 6}" y="${(gy + 4).toFixed(1)}" text-anchor="end" fill="#888" font-size="10" class="tick" data-panel="${i}">${esc(p.fmt(tv))}</text>`);
    }
    if (rateLine !== undefined) {
      const ry = (base - (rateLine / max) * plotH).toFixed(1);
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${ry}" y2="${ry}" stroke="#333" stroke-dasharray="5,4"/>`);
      out.push(`<text x="${left + plotW}" y="${y0 + 26}" text-anchor="end" fill="#333" font-size="11">${esc(`dashed line: the bearer rate, ${p.fmt(rateLine)}bit/s`)}</text>`);
      const ratio = results.map((r) => r.compression_ratio).find((c): c is number => typeof c === 'number' && c > 0);
      const lines = [
        'Goodput counts the stanza XML delivered. The relays compress what crosses the bearer',
        `(deflate with a shared dictionary${ratio ? `, ${ratio.toFixed(1)}:1 in ${results.length > 1 ? 'the first run' : 'this run'}` : ''}), so the relay pair can deliver more XML per second than the bearer rate.`,
      ];
      out.push(`<text x="${left}" y="${base + 44}" fill="#555" font-size="11" class="note">${lines.map((l, k) => `<tspan x="${left}" dy="${k ? 14 : 0}">${esc(l)}</tspan>`).join('')}</text>`);
    }
    const groupW = plotW / results.length;
    const barW = Math.min(60, groupW * 0.32);
    results.forEach((r, k) => {
      const cx = left + groupW * k + groupW / 2;
      const bars: Array<[number | null, string, number]> = [
        [p.value(r), RELAY, cx - barW - 2],
        [r.baseline ? p.value(r.baseline) : null, BASE, cx + 2],
      ];
      for (const [v, color, x] of bars) {
        if (v === null || !Number.isFinite(v)) {
          out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${base - 4}" text-anchor="middle" fill="#999" font-size="10">n/a</text>`);
          continue;
        }
        const h = Math.max(1, (v / max) * plotH);
        out.push(`<rect x="${x.toFixed(1)}" y="${(base - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"><title>${esc(`${r.workload}: ${p.fmt(v)}`)}</title></rect>`);
        out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(base - h - 4).toFixed(1)}" text-anchor="middle" font-size="10">${esc(p.fmt(v))}</text>`);
      }
      const rv = p.value(r);
      const bv = r.baseline ? p.value(r.baseline) : null;
      let note = '';
      if (rv && bv) {
        const x = p.better === 'lower' ? bv / rv : rv / bv;
        note = x >= 1 ? ` (${x >= 10 ? x.toFixed(0) : x.toFixed(1)}x better)` : ` (${(1 / x).toFixed(1)}x worse)`;
      }
      out.push(`<text x="${cx.toFixed(1)}" y="${base + 16}" text-anchor="middle">${esc(r.workload)}</text>`);
      if (note) out.push(`<text x="${cx.toFixed(1)}" y="${base + 30}" text-anchor="middle" fill="#555" font-size="10">${esc(`n=${r.stanzas}${note}`)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/**
 * The status page (GET / on the metrics listener): one self-contained HTML
 * page, no scripts, fonts or other files (ships are offline), rendered on the
 * server and reloaded by the browser every 10 s. Per link: state, RTT, queue,
 * spool, in flight, and small charts of the last hour (RTT, queue and spool,
 * bytes per second each way, retransmits); then the S2S sessions and the
 * latest errors.
 */
import type { LinkSample } from './history.ts';
import { niceTicks } from './ticks.ts';

/** What the page shows (the relay's status; obs/ does not import relay/). */
export interface PageStatus {
  site: string;
  version?: string;
  startedAt: string;
  uptimeS: number;
  links: Array<{ name: string; transport: string; up: boolean; rttMs?: number; queued: number; inFlight: number; spooled?: number; oldestAgeS?: number; lastError?: string; sent: number; received: number; metered?: PageMetered }>;
  sessions: Array<{ direction: string; local: string; remote: string; state: string; tls?: boolean; auth?: string }>;
  errors: ReadonlyArray<{ at: string; where: string; text: string }>;
}

/** A bearer of a link over several (links[].bearers). */
export interface PageBearer { name: string; transport: string; up: boolean; current: boolean; bytesSent: number; bytesReceived: number; costToday?: number }

export const REFRESH_S = 10;
const HOUR_MS = 3_600_000;

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const num = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d });
const ms = (x: number | undefined): string => (x === undefined ? '–' : x >= 10_000 ? `${num(x / 1000, 1)} s` : `${num(x)} ms`);
const bytesPerS = (x: number): string => (x >= 1e6 ? `${num(x / 1e6, 1)} MB/s` : x >= 1e3 ? `${num(x / 1e3, 1)} kB/s` : `${num(x)} B/s`);

export function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h ${m}m` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}

interface Series {
  label: string;
  color: string;
  value: (s: LinkSample) => number | undefined;
}

const W = 280;
const H = 84;
const PAD = { l: 44, r: 6, t: 6, b: 16 };

/** A small line chart of the last hour; y axis on round values (whole numbers for counts: `integer`). */
function chart(title: string, samples: readonly LinkSample[], now: number, series: Series[], fmt: (v: number) => string, integer = false): string {
  const pw = W - PAD.l - PAD.r;
  const ph = H - PAD.t - PAD.b;
  const x = (t: number): number => PAD.l + Math.max(0, Math.min(1, (t - (now - HOUR_MS)) / HOUR_MS)) * pw;
  const values = samples.flatMap((s) => series.map((se) => se.value(s))).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const ticks = niceTicks(Math.max(...values, integer ? 2 : 0), 2);
  const top = ticks[ticks.length - 1];
  const y = (v: number): number => PAD.t + ph - (v / top) * ph;
  const parts: string[] = [`<svg class="chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`, `<title>${esc(title)}</title>`];
  for (const tv of ticks) {
    parts.push(`<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(tv).toFixed(1)}" y2="${y(tv).toFixed(1)}" class="grid"/>`);
    parts.push(`<text x="${PAD.l - 4}" y="${(y(tv) + 3).toFixed(1)}" text-anchor="end">${esc(fmt(tv))}</text>`);
  }
  parts.push(`<text x="${PAD.l}" y="${H - 3}">−60 min</text><text x="${W - PAD.r}" y="${H - 3}" text-anchor="end">now</text>`);
  if (samples.length < 2) parts.push(`<text x="${PAD.l + pw / 2}" y="${PAD.t + ph / 2}" text-anchor="middle" class="empty">collecting: one sample every 10 s</text>`);
  else {
    for (const se of series) {
      const pts = samples.filter((s) => se.value(s) !== undefined).map((s) => `${x(s.t).toFixed(1)},${y(se.value(s)!).toFixed(1)}`);
      if (pts.length) parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${se.color}" stroke-width="1.5"><title>${esc(se.label)}</title></polyline>`);
    }
  }
  parts.push('</svg>');
  const legend = series.length > 1 ? ` <span class="legend">${series.map((se) => `<i style="background:${se.color}"></i>${esc(se.label)}`).join(' ')}</span>` : '';
  return `<figure><figcaption>${esc(title)}${legend}</figcaption>${parts.join('')}</figure>`;
}

/** When the link was up over the hour: a band, green up, red down. */
function upBand(samples: readonly LinkSample[], now: number): string {
  const pw = W - PAD.l - PAD.r;
  const x = (t: number): number => PAD.l + Math.max(0, Math.min(1, (t - (now - HOUR_MS)) / HOUR_MS)) * pw;
  const rects = samples.slice(1).map((s, i) => {
    const x0 = x(samples[i].t);
    return `<rect x="${x0.toFixed(1)}" y="4" width="${Math.max(0.5, x(s.t) - x0).toFixed(1)}" height="12" class="${s.up ? 'bar-up' : 'bar-down'}"/>`;
  });
  return `<figure><figcaption>Link up (green) or down (red)</figcaption><svg class="chart" width="${W}" height="30" viewBox="0 0 ${W} 30" role="img" aria-label="link up or down over the last hour"><title>link up or down over the last hour</title><rect x="${PAD.l}" y="4" width="${pw}" height="12" class="bar-none"/>${rects.join('')}<text x="${PAD.l}" y="27">−60 min</text><text x="${W - PAD.r}" y="27" text-anchor="end">now</text></svg></figure>`;
}

/** A metered bearer's day (link/port.ts MeteredStatus). */
interface PageMetered { metered: boolean; bearer: string; bytesToday: number; costToday: number; currency: string; remainingBytes?: number; spent: boolean; held: number }

function meteredCell(m: PageMetered): string {
  const mb = (b: number) => `${num(b / 1e6, 2)} MB`;
  return `${esc(m.bearer)}: ${mb(m.bytesToday)}, ${num(m.costToday, 2)}${m.currency ? ` ${esc(m.currency)}` : ''}; ${m.spent ? '<strong>budget spent</strong>' : `${mb(m.remainingBytes ?? 0)} left`}; ${num(m.held)} held`;
}

function linkSection(l: PageStatus['links'][number], samples: readonly LinkSample[], now: number): string {
  const spool = l.spooled === undefined ? '–' : `${num(l.spooled)}${l.spooled > 0 && l.oldestAgeS !== undefined ? ` (oldest ${duration(l.oldestAgeS)})` : ''}`;
  const last = samples[samples.length - 1];
  const cells: Array<[string, string]> = [
    ['transport', esc(l.transport)],
    ['RTT', ms(l.rttMs)],
    ['queued', num(l.queued)],
    ['in flight', num(l.inFlight)],
    ['spool', spool],
    ['sent', num(l.sent)],
    ['received', num(l.received)],
    ['out / in', last ? `${bytesPerS(last.txBps)} / ${bytesPerS(last.rxBps)}` : '–'],
  ];
  if (l.metered?.metered) cells.push(['metered today (UTC)', meteredCell(l.metered)]);
  const charts = [
    upBand(samples, now),
    chart('RTT, ms', samples, now, [{ label: 'RTT', color: '#1f6fb4', value: (s) => s.rttMs }], (v) => num(v, 2)),
    chart('Queued and spooled, stanzas', samples, now, [{ label: 'queued', color: '#b45f1f', value: (s) => s.queued }, { label: 'spool', color: '#6b4ea0', value: (s) => s.spooled }], (v) => num(v), true),
    chart('Bearer, bytes per second', samples, now, [{ label: 'out', color: '#1f8a4c', value: (s) => s.txBps }, { label: 'in', color: '#1f6fb4', value: (s) => s.rxBps }], (v) => num(v, 2)),
    chart('Retransmits per 10 s', samples, now, [{ label: 'retransmits', color: '#c0392b', value: (s) => s.retransmits }], (v) => num(v), true),
  ];
  return `<section class="link" id="link-${esc(l.name)}">
<h2>link <span class="name">${esc(l.name)}</span> <span class="state ${l.up ? 'up' : 'down'}">${l.up ? 'UP' : 'DOWN'}</span></h2>
<table class="figures"><tr>${cells.map(([k]) => `<th>${k}</th>`).join('')}</tr><tr>${cells.map(([, v]) => `<td>${v}</td>`).join('')}</tr></table>
${bearerTable((l as { bearers?: readonly PageBearer[] }).bearers)}${l.lastError ? `<p class="error">last error: ${esc(l.lastError)}</p>` : ''}<div class="charts">${charts.join('')}</div>
</section>`;
}

/** A link over several bearers: one row each, in order of preference. */
function bearerTable(bs: readonly PageBearer[] | undefined): string {
  if (!bs?.length) return '';
  const bytes = (x: number): string => (x >= 1e6 ? `${num(x / 1e6, 1)} MB` : x >= 1e3 ? `${num(x / 1e3, 1)} kB` : `${num(x)} B`);
  const rows = bs.map(
    (b) =>
      `<tr><td>${esc(b.name)}${b.current ? ' <b>(current)</b>' : ''}</td><td>${esc(b.transport)}</td><td><span class="state ${b.up ? 'up' : 'down'}">${b.up ? 'UP' : 'DOWN'}</span></td><td>${bytes(b.bytesSent)}</td><td>${bytes(b.bytesReceived)}</td><td>${b.costToday === undefined ? '–' : num(b.costToday, 2)}</td></tr>`,
  );
  return `<table class="bearers"><tr><th>bearer</th><th>transport</th><th>state</th><th>sent</th><th>received</th><th>cost today</th></tr>${rows.join('')}</table>
`;
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fff}
h1{font-size:1.4em;margin:0}h2{font-size:1.1em;margin:1.2em 0 .4em}.sub{color:#555;margin:.2em 0 1em}
.state{padding:1px 8px;border-radius:3px;color:#fff;font-size:.9em}.up{background:#1f8a4c}.down{background:#c0392b}
table{border-collapse:collapse}th,td{padding:2px 10px 2px 0;text-align:left}th{color:#555;font-weight:normal}td{font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:6px 18px}figure{margin:0}figcaption{font-size:.85em;color:#444}
.chart text{font-size:9px;fill:#777}.chart .grid{stroke:#eee}.chart .empty{fill:#999}.legend i{display:inline-block;width:9px;height:9px;margin:0 3px 0 6px}
.bar-up{fill:#1f8a4c}.bar-down{fill:#c0392b}.bar-none{fill:#eee}.error{color:#c0392b}footer{margin-top:2em;color:#777;font-size:.85em}`;

/** The whole page. `samples(name)` gives a link's last hour; `now` is ms since epoch. */
export function renderStatusPage(st: PageStatus, samples: (link: string) => readonly LinkSample[], now: number): string {
  const sessions = st.sessions.length
    ? `<table class="sessions"><tr><th>direction</th><th>relay as</th><th>local server</th><th>state</th><th>TLS</th><th>auth</th></tr>${st.sessions
        .map((s) => `<tr><td>${esc(s.direction)}</td><td>${esc(s.local)}</td><td>${esc(s.remote)}</td><td>${esc(s.state)}</td><td>${s.tls ? 'yes' : 'no'}</td><td>${esc(s.auth ?? '–')}</td></tr>`)
        .join('')}</table>`
    : '<p>none</p>';
  const errors = st.errors.length ? `<ul class="errors">${st.errors.map((e) => `<li><time>${esc(e.at.replace('T', ' ').slice(0, 19))} UTC</time> ${esc(e.where)}: ${esc(e.text)}</li>`).join('')}</ul>` : '<p>none</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta http-equiv="refresh" content="${REFRESH_S}"><link rel="icon" href="data:,">
<title>satrelay ${esc(st.site)}</title><style>${STYLE}</style></head>
<body>
<h1>satrelay <span class="site">${esc(st.site)}</span></h1>
<p class="sub">up ${duration(st.uptimeS)} (since ${esc(st.startedAt.replace('T', ' ').slice(0, 19))} UTC)${st.version ? ` · version ${esc(st.version)}` : ''} · this page reloads every ${REFRESH_S} s · ${new Date(now).toISOString().slice(11, 19)} UTC</p>
${st.links.map((l) => linkSection(l, samples(l.name), now)).join('\n')}
<h2>S2S sessions with local servers</h2>
${sessions}
<h2>Latest errors</h2>
${errors}
<footer>Prometheus metrics: <a href="/metrics">/metrics</a> · the same status as JSON: <a href="/status">/status</a></footer>
</body></html>
`;
}

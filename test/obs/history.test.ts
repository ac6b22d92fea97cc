/** The status page's data (a ring of samples per link) and its rendering, from figures alone. */
import test from 'ava';
import { LinkHistory, RecentErrors } from '../../src/obs/history.ts';
import { renderStatusPage, type PageStatus } from '../../src/obs/status-page.ts';

const reading = (over: Partial<Parameters<LinkHistory['record']>[1][number]> = {}) => ({ name: 'shore', up: true, rttMs: 600, queued: 0, spooled: 0, bytesSent: 0, bytesReceived: 0, retransmits: 0, ...over });

test('samples: rates per second between samples, counter resets read as zero, one hour kept', (t) => {
  const h = new LinkHistory(360, 10_000);
  h.record(0, [reading()]);
  h.record(10_000, [reading({ bytesSent: 12_000, bytesReceived: 3000, retransmits: 2 })]);
  h.record(20_000, [reading({ bytesSent: 500, retransmits: 0 })]); // link rebuilt: counters restarted
  const s = h.samples('shore');
  t.deepEqual(s.map((x) => [x.txBps, x.rxBps, x.retransmits]), [[0, 0, 0], [1200, 300, 2], [0, 0, 0]]);
  for (let i = 3; i < 400; i++) h.record(i * 10_000, [reading()]);
  t.is(h.samples('shore').length, 360);
  t.is(h.samples('shore')[0].t, 40 * 10_000, 'the oldest samples dropped');
  t.deepEqual(h.samples('nope'), []);
});

test('recent errors: newest first, a lasting problem once, at most ten', (t) => {
  const e = new RecentErrors();
  e.note(new Date(0), 'link shore', 'cannot connect');
  e.note(new Date(1000), 'link shore', 'cannot connect');
  e.note(new Date(2000), 'local delivery', undefined);
  e.note(new Date(3000), 'local delivery', 'local delivery to a.example: remote-server-not-found');
  t.deepEqual(e.all().map((x) => x.where), ['local delivery', 'link shore']);
  for (let i = 0; i < 20; i++) e.note(new Date(i), 'link shore', `error ${i}`);
  t.is(e.all().length, 10);
});

const status: PageStatus = {
  site: 'ship<1>', startedAt: '2026-11-23T17:32:45.583Z', uptimeS: 3725,
  links: [{ name: 'shore', transport: 'udp', up: false, rttMs: 612.4, queued: 3, inFlight: 1, spooled: 4, oldestAgeS: 75, lastError: 'no frame <from> partner', sent: 10, received: 9 }],
  sessions: [], errors: [{ at: '2026-11-23T18:00:00.000Z', where: 'link shore', text: 'no frame <from> partner' }],
};

test('the page: escaped text, DOWN state, spool age, round and distinct axis labels, "collecting" with one sample', (t) => {
  const h = new LinkHistory();
  const now = 3_600_000;
  h.record(now - 3_600_000 + 1, [reading({ retransmits: 0 })]);
  h.record(now - 1_800_000, [reading({ retransmits: 1, queued: 1, bytesSent: 900_000 })]);
  h.record(now, [reading({ retransmits: 1, rttMs: 1234 })]);
  const html = renderStatusPage(status, (n) => h.samples(n), now);
  t.regex(html, /<title>satrelay ship&lt;1&gt;<\/title>/);
  t.notRegex(html, /<from>/, 'error text escaped');
  t.regex(html, /<span class="state down">DOWN<\/span>/);
  t.regex(html, /<td>4 \(oldest 1m 15s\)<\/td>/);
  t.regex(html, /up 1h 2m/);
  const charts = html.split('<figure>').slice(2);
  t.is(charts.length, 4);
  for (const c of charts) {
    const labels = [...c.matchAll(/<text x="\d+(?:\.\d+)?" y="[\d.]+" text-anchor="end">([^<]+)<\/text>/g)].map((m) => m[1]).filter((l) => l !== 'now');
    t.true(labels.length >= 2, c.slice(0, 80));
    t.is(new Set(labels).size, labels.length, `distinct labels: ${labels.join(', ')}`);
    for (const l of labels) t.regex(l.replace(/,/g, ''), /^(?:0|[125]0*|[1-9]\d*(?:\.\d+)?)$/, l);
  }
  t.regex(charts[3], /Retransmits per 10 s[\s\S]*>0<[\s\S]*>1<[\s\S]*>2</, 'a count axis in whole numbers');
  const one = new LinkHistory();
  one.record(now, [reading()]);
  t.regex(renderStatusPage(status, (n) => one.samples(n), now), /collecting: one sample every 10 s/);
});

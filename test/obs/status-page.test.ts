/**
 * What an operator sees of a running relay pair: the status page in a real
 * browser (Debian's headless chromium), and /metrics with the catalog's HELP
 * texts and the process metrics. Samples for the page's charts are taken
 * explicitly (view.sample()), so nothing waits for the 10 s timer.
 */
import test from 'ava';
import { Browser, chromiumAvailable } from '../helpers/chromium.ts';
import { startRelayPair, type RelayPair } from '../helpers/relay-pair.ts';
import { METRICS } from '../../src/obs/catalog.ts';
import { until } from '../helpers/until.ts';

let pair: RelayPair;

test.before(async () => {
  pair = await startRelayPair();
  for (const r of Object.values(pair.relays)) r.view.sample();
  await pair.message('a', 'first, cold');
  await pair.message('b', 'and back');
  for (let i = 0; i < 20; i++) await pair.message('a', `hello ${i}`);
  await until(() => pair.relays.a.status().links[0].up && pair.relays.b.status().links[0].up, 'both links up');
  for (const r of Object.values(pair.relays)) r.view.sample(Date.now() + 1000);
});

test.after.always(async () => {
  await pair?.stop();
});

const chromium = chromiumAvailable() ? test : test.skip;

chromium('the status page shows, in a real browser, the link up with its figures, charts of the hour, the S2S sessions and errors', async (t) => {
  t.timeout(60_000);
  const browser = await Browser.launch();
  t.teardown(() => browser.close());
  const page = await browser.open(pair.url('a', '/'));
  const text = await page.evaluate<string>('document.body.innerText');
  t.regex(text, /^satrelay ship$/m, 'the site');
  t.regex(text, /link shore\s+UP/, 'the link and its state');
  const figures = await page.evaluate<Record<string, string>>(
    `Object.fromEntries([...document.querySelectorAll('#link-shore table.figures th')].map((th, i) => [th.textContent, document.querySelectorAll('#link-shore table.figures td')[i].textContent]))`,
  );
  t.regex(figures.RTT, /^\d[\d,.]* m?s$/, `RTT shown: ${figures.RTT}`);
  t.regex(figures.queued, /^\d+$/);
  t.regex(figures['in flight'], /^\d+$/);
  t.regex(figures.spool, /^\d+/);
  t.regex(figures.sent, /^\d+$/);
  t.true(Number(figures.sent) >= 21, `sent ${figures.sent}`);
  t.regex(figures['out / in'], /^[\d,.]+ k?B\/s \/ [\d,.]+ k?B\/s$/);
  // The charts: visible, with a drawn line each (two samples), titled for a person.
  const charts = await page.evaluate<Array<{ caption: string; width: number; height: number; lines: number }>>(
    `[...document.querySelectorAll('#link-shore figure')].map((f) => { const r = f.querySelector('svg').getBoundingClientRect(); return { caption: f.querySelector('figcaption').textContent, width: r.width, height: r.height, lines: f.querySelectorAll('polyline, rect.bar-up').length }; })`,
  );
  const titles = ['Link up (green) or down (red)', 'RTT, ms', 'Queued and spooled, stanzas', 'Bearer, bytes per second', 'Retransmits per 10 s'];
  t.deepEqual(charts.map((c) => titles.find((x) => c.caption.startsWith(x))), titles, charts.map((c) => c.caption).join(' | '));
  for (const c of charts) {
    t.true(c.width > 100 && c.height > 20, `${c.caption} is drawn (${c.width}x${c.height})`);
    t.true(c.lines >= 1, `${c.caption} has data`);
  }
  t.regex(text, /S2S sessions with local servers[\s\S]*\b(in|out)\b\s+b\.example\s+a\.example\s+authed/, 'the S2S sessions');
  t.regex(text, /Latest errors\s+none/);
  // Self-contained: nothing but the page itself was loaded (not even a favicon), and it reloads itself.
  const resources = await page.evaluate<string[]>(`performance.getEntriesByType('resource').map((e) => e.name)`);
  t.deepEqual(resources, []);
  t.is(await page.evaluate<string>(`document.querySelector('meta[http-equiv="refresh"]').content`), '10');
});

test('the page is one self-contained document: no scripts, external fonts, images or stylesheets', async (t) => {
  const res = await fetch(pair.url('b', '/'));
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/html/);
  const html = await res.text();
  t.notRegex(html, /<script|<link (?![^>]*href="data:)|@import|url\(|src=/i);
  t.regex(html, /link <span class="name">ship<\/span> <span class="state up">UP<\/span>/);
  t.true(html.length < 40_000, `${html.length} bytes`);
});

test('/metrics: every satrelay_ metric served has the catalog\'s HELP and type, labels from the catalog, and process metrics carry the site', async (t) => {
  const text = await (await fetch(pair.url('a', '/metrics'))).text();
  const helps = [...text.matchAll(/^# HELP satrelay_(\S+) (.*)$/gm)];
  t.true(helps.length > 20, `${helps.length} satrelay metrics served`);
  for (const [, name, help] of helps) {
    const info = METRICS[name];
    t.truthy(info, `satrelay_${name} is in the catalog`);
    if (!info) continue;
    t.is(help, info.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n'), name);
    t.not(help, name.replace(/_/g, ' '), `${name}: HELP says more than the name`);
    t.regex(text, new RegExp(`^# TYPE satrelay_${name} ${info.type}$`, 'm'));
    for (const [, labels] of text.matchAll(new RegExp(`^satrelay_${name}(?:_bucket|_sum|_count)?\\{([^}]*)\\}`, 'gm'))) {
      for (const [, label] of labels.matchAll(/(\w+)="/g)) t.true(label === 'site' || label === 'le' || info.labels.includes(label), `${name}: label ${label} is in the catalog`);
    }
  }
  t.regex(text, /^process_resident_memory_bytes\{site="ship"\} \d+/m);
  t.regex(text, /^process_open_fds\{site="ship"\} \d+/m);
  t.regex(text, /^# HELP process_cpu_seconds_total /m);
  t.regex(text, /^satrelay_link_bytes_sent_total\{link="shore",site="ship"\} \d+/m);
});

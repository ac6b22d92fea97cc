/**
 * The metric catalog (src/obs/catalog.ts) against the code and the guide:
 * every metric name used in src/ (metrics.inc/tally/set/observe) has an entry with
 * a real HELP text and the labels its calls use; no entry is left over; the
 * guide's metric reference is the catalog's table; the guide's "ones to
 * watch" name only catalog metrics, with their labels.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS, metricsTable } from '../../src/obs/catalog.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { emptyDirStats } from '../../src/emulator/index.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Use { name: string; file: string; labels: string[] }

/** Every metrics.inc/tally/set/observe call with a literal (or template) name, and the literal label keys it passes. */
function uses(): Use[] {
  const out: Use[] = [];
  for (const file of sources('src')) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/metrics\??\.(?:inc|tally|set|observe)\(\s*(['"`])([^'"`]+)\1\s*(?:,\s*(\{[^}]*\}|[\w.]+))?/g)) {
      const labelArg = m[3] ?? '';
      const labels = labelArg.startsWith('{') ? [...labelArg.matchAll(/(?:^\{|,)\s*(\w+)\s*(?::|,|\})/g)].map((x) => x[1]) : [];
      out.push({ name: m[2], file, labels });
    }
  }
  return out;
}

/** Template names (emulator_${k}_total) expand to the keys they take. */
function expand(name: string): string[] {
  if (name === 'emulator_${k}_total') return Object.keys(emptyDirStats()).filter((k) => !k.startsWith('latency') && k !== 'busy_ms').map((k) => `emulator_${k}_total`);
  return [name];
}

test('every metric name used in src/ has a catalog entry, and its literal labels are the catalog\'s', (t) => {
  const found = uses();
  t.true(found.length > 150, `${found.length} metric calls found`);
  for (const u of found) {
    t.notRegex(u.name, /\$\{(?!k\})/, `${u.file}: a metric name built at run time must be listed in this test's expand(): ${u.name}`);
    for (const name of expand(u.name)) {
      const info = METRICS[name];
      if (!info) {
        t.fail(`${u.file}: satrelay_${name} has no entry in src/obs/catalog.ts (type, HELP saying what it counts and its unit, labels)`);
        continue;
      }
      for (const l of u.labels) t.true(info.labels.includes(l), `${u.file}: ${name} label "${l}" is not in the catalog (${info.labels.join(', ')})`);
    }
  }
});

test('catalog entries: a HELP text that says more than the name, no entry that nothing uses', (t) => {
  const used = new Set(uses().flatMap((u) => expand(u.name)));
  for (const [name, info] of Object.entries(METRICS)) {
    t.true(used.has(name), `${name} is in the catalog but nothing in src/ sets it`);
    t.true(info.help.length >= 20 && info.help.toLowerCase() !== name.replace(/_/g, ' '), `${name}: HELP "${info.help}"`);
    t.is(info.type === 'counter', name.endsWith('_total'), `${name}: counters end in _total, gauges do not`);
    t.notRegex(info.help, /\n/);
  }
});

test('a metric first used without a label and then with one keeps counting (labels come from the catalog)', (t) => {
  const m = new Metrics({ site: 's' });
  m.inc('drops_total', { reason: 'unroutable_bounce' });
  t.notThrows(() => m.inc('drops_total', { reason: 'invalid_from', link: 'shore' }));
  t.is(m.get('drops_total'), 2);
  t.is(m.get('drops_total', { link: 'shore' }), 1);
});

const guide = readFileSync('docs/operator-guide.md', 'utf8');

test('the guide\'s metric reference is the catalog\'s table (npm run docs:metrics writes it)', (t) => {
  const m = /<!-- metrics:begin[^>]*-->\n([\s\S]*?)<!-- metrics:end -->/.exec(guide);
  t.truthy(m, 'the guide has the generated table between its markers');
  t.is(m![1], metricsTable(), 'regenerate with: npm run docs:metrics');
});

test('the guide\'s alert table names catalog metrics with their labels', (t) => {
  const section = guide.slice(guide.indexOf('The ones to watch'), guide.indexOf('<!-- metrics:begin'));
  const rows = section.split('\n').filter((l) => /^\| `satrelay_/.test(l));
  t.true(rows.length >= 15, `${rows.length} rows`);
  for (const row of rows) {
    const [names, labels] = row.split('|').slice(1, 3);
    const listed = labels.trim() === '—' ? [] : labels.split(/[,;]/).map((l) => l.trim().split(/[\s(]/)[0].replace(/[`/]/g, '')).filter(Boolean);
    for (const [, name] of names.matchAll(/`satrelay_([a-z_]+)`/g)) {
      const info = METRICS[name];
      t.truthy(info, `${name} in the guide is not a metric`);
      if (info) t.deepEqual([...listed].sort(), [...info.labels].sort(), `${name}: the guide's labels column`);
    }
  }
});

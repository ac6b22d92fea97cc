/**
 * `satrelay demo` without a terminal: one status line a second, a summary at
 * the end (--duration), relay logs kept out of stdout, the temp folder
 * removed on exit (kept with --keep); and its explanatory lines.
 */
import test from 'ava';
import { runSatrelay } from '../helpers/cli.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { comparisonLine, explainStall, storedPlainS2S } from '../../src/cli/demo-text.ts';

const tempFolder = (out: string): string => /relay logs: (\S+)\/relays\.log/.exec(out)![1];

test('satrelay demo --duration runs the relay pair, prints a line a second and a summary, and removes its temp folder', async (t) => {
  t.timeout(40_000);
  const { code, out, err } = await runSatrelay(['demo', '--profile', 'lan', '--duration', '4', '--rate', '20'], t);
  t.is(code, 0, err);
  const ticks = out.split('\n').filter((l) => /^\d\d:\d\d ab \d+\/\d+ ba \d+\/\d+ bearer \d+ B/.test(l));
  t.true(ticks.length >= 2, out);
  t.notRegex(out, /"level":/, 'no relay log lines on stdout');
  const sent = /a\.example -> b\.example {2}sent (\d+) {2}delivered (\d+) {2}in flight (\d+)/.exec(out);
  t.truthy(sent, out);
  t.true(Number(sent![1]) >= 40, 'about 20 stanzas a second for 4 s offered');
  t.true(Number(sent![2]) > 0, 'stanzas crossed the relay pair');
  t.is(Number(sent![1]) - Number(sent![2]), Number(sent![3]), 'in flight on the a->b row counts that direction only');
  const back = /b\.example -> a\.example {2}sent (\d+) {2}delivered (\d+) {2}in flight (\d+)/.exec(out);
  t.truthy(back, out);
  t.is(Number(back![1]) - Number(back![2]), Number(back![3]), 'and the b->a row its own');
  t.regex(out, /errors {8}bounced 0, duplicates 0/);
  // Cache hits appear once, as what the near side answered.
  t.is((out.match(/cache hits/g) ?? []).length, 1, 'cache hits named once in the summary');
  t.notRegex(out, /answered near side \d+/);
  // "Is this good?": lan has no stored plain-S2S figures in bench/results/ -> says how to get them.
  t.regex(out, /vs plain S2S {2}(?:first stanza .* \(plain S2S [\d.,]+ m?s\).*stored by npm run bench in bench\/results\/lan-mixed\.json|no stored plain-S2S figures for lan; "satrelay bench --profile lan --workload mixed")/);
  const dir = tempFolder(out);
  t.false(existsSync(dir), `temp folder ${dir} removed on exit`);
});

test('satrelay demo --keep keeps the relay logs', async (t) => {
  t.timeout(40_000);
  const { code, out, err } = await runSatrelay(['demo', '--profile', 'lan', '--duration', '2', '--rate', '5', '--keep'], t);
  t.is(code, 0, err);
  const dir = tempFolder(out);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.regex(out, /relay logs and data kept in /);
  t.regex(readFileSync(join(dir, 'relays.log'), 'utf8'), /relay started/);
});

test('the plain-S2S comparison uses the stored bench figures and says so', (t) => {
  const stored = storedPlainS2S('hf-1200');
  t.truthy(stored, 'bench/results/hf-1200-mixed.json is committed');
  const stored2 = JSON.parse(readFileSync('bench/results/hf-1200-mixed.json', 'utf8'));
  t.is(stored!.firstStanzaMs, stored2.baseline.first_stanza_ms);
  const line = comparisonLine('hf-1200', { firstStanzaMs: 6600, bytesPerStanza: 120 }, stored);
  // The stored figures are whatever the last npm run bench wrote: read them, do not pin them.
  const s2sFirst = `${Math.round(stored2.baseline.first_stanza_ms / 1000)} s`;
  const s2sBytes = Math.round(stored2.baseline.bytes_per_stanza).toLocaleString('en-US');
  const day = String(stored2.started_at).slice(0, 10);
  t.is(line, `first stanza 6.6 s (plain S2S ${s2sFirst}), bearer bytes per stanza 120 (plain S2S ${s2sBytes}); plain S2S figures stored by npm run bench in bench/results/hf-1200-mixed.json of ${day}`);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-demo-text-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.is(storedPlainS2S('my-vsat', dir), undefined);
  writeFileSync(join(dir, 'my-vsat-mixed.json'), JSON.stringify({ started_at: '2026-01-02T00:00:00Z', baseline: { first_stanza_ms: 900, bytes_per_stanza: 400 } }));
  t.deepEqual(storedPlainS2S('/etc/satrelay/my-vsat.yaml', dir), { firstStanzaMs: 900, bytesPerStanza: 400, source: 'bench/results/my-vsat-mixed.json of 2026-01-02' });
  t.regex(comparisonLine('x', {}, undefined), /no stored plain-S2S figures for x/);
});

test('a long stall is explained on screen: loss and RTO, link down, busy bearer; short waits are not', (t) => {
  const base = { open: 3, oldestOpenMs: 40_000, up: true, rtoMs: 12_000, inFlightFrames: 2, retransmitsRecent: 1, rttMs: 9000, queued: 0 };
  t.is(explainStall(base), 'oldest stanza waiting 40 s: retransmitting after loss, RTO 12 s (the timeout doubles after each loss on the same frame)');
  t.regex(explainStall({ ...base, up: false })!, /waiting 40 s: the link is down/);
  t.regex(explainStall({ ...base, inFlightFrames: 0, retransmitsRecent: 0, queued: 14 })!, /the bearer is busy, 14 stanzas queued/);
  t.is(explainStall({ ...base, oldestOpenMs: 20_000 }), undefined, 'under 3 RTTs on hf-1200 is normal');
  t.is(explainStall({ ...base, open: 0 }), undefined);
  t.is(explainStall({ ...base, oldestOpenMs: 4000, rttMs: 100 }), undefined);
});

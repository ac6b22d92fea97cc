import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bearerRttMs, listProfiles, loadProfile, resolveTuning, PROFILES_DIR, type BearerProfile } from '../../src/config/index.ts';
import { validateParams } from '../../src/emulator/engine.ts';
import { issueAt, issuesOf, posOf, tempDir, writeFiles } from './helpers.ts';

const EXPECTED = ['bgan-64k', 'certus-352', 'hf-1200', 'iridium-2400', 'lan', 'lossy-test', 'milsatcom-9600', 'vsat-1m'];

test('every file in profiles/ is listed and loads, with a source block', (t) => {
  const files = readdirSync(PROFILES_DIR).filter((f) => f.endsWith('.yaml'));
  t.deepEqual(listProfiles(), files.map((f) => f.slice(0, -5)).sort());
  for (const name of EXPECTED) t.true(listProfiles().includes(name), name);
  for (const name of listProfiles()) {
    const p = loadProfile(name);
    t.is(p.name, name);
    t.is(p.file, join(PROFILES_DIR, `${name}.yaml`));
    t.true(p.tuning.frame_bytes <= p.bearer.mtu, name);
    t.true(p.tuning.max_frames_in_flight <= p.tuning.window_frames, name);
    t.true(p.tuning.rto_min_ms > bearerRttMs(p.bearer), `${name}: RTO floor above the RTT`);
    t.regex(readFileSync(p.file, 'utf8'), /^# source:/m, name);
    // the bearer half is accepted as is by the emulator
    t.notThrows(() => validateParams(p.bearer), name);
  }
});

test('shipped profiles carry the figures of the design table', (t) => {
  const fig = (n: string) => loadProfile(n).bearer;
  t.like(fig('hf-1200'), { rate_bps: 1200, duplex: 'half' });
  t.true(fig('hf-1200').delay_ms - fig('hf-1200').jitter_ms >= 2000 && fig('hf-1200').delay_ms + fig('hf-1200').jitter_ms <= 5000);
  t.is(fig('hf-1200').loss.model, 'gilbert_elliott');
  t.like(fig('iridium-2400'), { rate_bps: 2400, delay_ms: 1000 });
  t.true(fig('iridium-2400').outages.length > 0);
  t.like(fig('milsatcom-9600'), { rate_bps: 9600, delay_ms: 300 });
  t.like(fig('bgan-64k'), { rate_bps: 64000, delay_ms: 300 });
  t.like(fig('certus-352'), { rate_bps: 352000, delay_ms: 400 });
  t.is(Math.max(...fig('certus-352').outages.map((o) => o.duration_s)), 70);
  t.like(fig('vsat-1m'), { rate_bps: 1_000_000, delay_ms: 300 });
  t.is(fig('vsat-1m').loss.model, 'gilbert_elliott');
  t.like(fig('lossy-test'), { rate_bps: 64000, loss: { model: 'bernoulli', p: 0.05 } });
  t.like(fig('lan').loss, { model: 'bernoulli', p: 0 });
});

test('computed tuning follows the bandwidth-delay product', (t) => {
  const b: BearerProfile = {
    rate_bps: 64000, delay_ms: 300, jitter_ms: 0, loss: { model: 'bernoulli', p: 0 }, ber: 0, mtu: 1500,
    duplex: 'full', turnaround_ms: 0, duplicate: 0, reorder: 0, outages: [],
  };
  // BDP = 8000 B/s x 0.6 s = 4800 B; window = 2 x 4800 / 400 = 24 frames
  t.is(resolveTuning(b, { frame_bytes: 400 }).window_frames, 24);
  // ten times the rate, ten times the window
  t.is(resolveTuning({ ...b, rate_bps: 640000 }, { frame_bytes: 400 }).window_frames, 240);
  // clamped to [4, 1024]
  t.is(resolveTuning({ ...b, rate_bps: 1200 }, { frame_bytes: 400 }).window_frames, 4);
  t.is(resolveTuning({ ...b, rate_bps: 1e9 }, {}).window_frames, 1024);
  // half duplex: two turnarounds join the RTT
  t.is(bearerRttMs({ ...b, duplex: 'half', turnaround_ms: 500 }), 1600);
  // a given value wins over the computed one
  t.is(resolveTuning(b, { window_frames: 7 }).window_frames, 7);
  t.is(resolveTuning(b, { window_frames: 7 }).max_frames_in_flight, 7);
});

test('a bad profile is reported like a site file: file, line, column, key path, expectation', (t) => {
  const dir = tempDir(t);
  const text = `description: test
bearer:
  rate_bps: fast
  delay_ms: 300
  loss: { model: gilbert, p: 0.1 }
  duplex: both
  outages:
    - { every_s: 10, duration_s: 20 }
    - { duration_s: 5 }
  mtu: 1000
tuning:
  frame_bytes: 1400
`;
  writeFiles(dir, { 'bad.yaml': text });
  const issues = issuesOf(t, () => loadProfile('bad.yaml', dir));
  t.true(issues.every((i) => i.file.endsWith('bad.yaml')));
  t.like(issueAt(t, issues, 'bearer.rate_bps'), { ...posOf(text, 'fast'), message: 'expected a number, got "fast"' });
  t.like(issueAt(t, issues, 'bearer.loss.model'), { ...posOf(text, 'gilbert,'), message: 'expected one of bernoulli, gilbert_elliott, got "gilbert"' });
  t.like(issueAt(t, issues, 'bearer.duplex'), { ...posOf(text, 'both'), message: 'expected one of full, half, got "both"' });
  t.like(issueAt(t, issues, 'bearer.outages[0].duration_s'), { ...posOf(text, '20 }'), message: 'expected less than every_s (10), got 20' });
  t.regex(issueAt(t, issues, 'bearer.outages[1]').message, /exactly one of start_s .* or every_s/);
  // frame_bytes > mtu is checked once the schema passes
  const fixed = text.replace('fast', '9600').replace('gilbert, p: 0.1', 'bernoulli, p: 0.1').replace('both', 'half')
    .replace('{ every_s: 10, duration_s: 20 }', '{ every_s: 10, duration_s: 2 }').replace('{ duration_s: 5 }', '{ start_s: 1, duration_s: 5 }');
  writeFiles(dir, { 'bad2.yaml': fixed });
  const i2 = issuesOf(t, () => loadProfile(join(dir, 'bad2.yaml')));
  t.deepEqual(i2.map((i) => i.path), ['tuning.frame_bytes']);
  t.like(i2[0], { ...posOf(fixed, '1400'), message: 'expected at most the bearer mtu (1000), got 1400' });
});

test('loadProfile: unknown names suggest the closest shipped profile', (t) => {
  const issues = issuesOf(t, () => loadProfile('iridium'));
  t.is(issues.length, 1);
  t.regex(issues[0].message, /unknown profile "iridium"/);
  const close = issuesOf(t, () => loadProfile('vsat-1n'));
  t.regex(close[0].message, /did you mean "vsat-1m"/);
});

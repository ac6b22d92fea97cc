/** probe_interval_ms: the outage probe cadence a profile gets, what `check` says about it, what it refuses. */
import test from 'ava';
import {
  bearerRttMs, listProfiles, loadProfile, parseSiteConfig, probeBytesPerHour, renderEffectiveConfig, resumeBoundMs,
} from '../../src/config/index.ts';
import { MINIMAL, issueAt, issuesOf, posOf } from './helpers.ts';

test('every shipped profile probes often enough for 3 RTT + 1 s and far below rto_max_ms', (t) => {
  for (const name of listProfiles()) {
    const p = loadProfile(name);
    const target = 3 * bearerRttMs(p.bearer) + 1000;
    t.true(resumeBoundMs(p.bearer, p.tuning) <= target, `${name}: bound ${resumeBoundMs(p.bearer, p.tuning)} > ${target}`);
    t.true(p.tuning.probe_interval_ms <= p.tuning.rto_max_ms / 3, `${name}: ${p.tuning.probe_interval_ms} ms`);
    t.is(probeBytesPerHour(p.tuning), Math.ceil(3_600_000 / p.tuning.probe_interval_ms) * 32, name);
  }
  // the figures the profiles and docs state
  t.is(loadProfile('bgan-64k').tuning.probe_interval_ms, 1652);
  t.is(loadProfile('iridium-2400').tuning.probe_interval_ms, 973);
  t.is(loadProfile('hf-1200').tuning.probe_interval_ms, 15160);
});

test('check shows the probe cadence, its bytes per hour and the resume bound; a given value wins', (t) => {
  const cfg = parseSiteConfig(MINIMAL, 's.yaml', { checkKeyFiles: false });
  const text = renderEffectiveConfig(cfg);
  t.regex(text, /# {3}outage: a probe every 1652 ms while stanzas wait \(<= 68 KiB per hour per end\); first stanza within ~2\.9 s of the bearer's return/);
  t.regex(text, /probe_interval_ms: 1652 +# probe cadence/);
  const slower = parseSiteConfig(MINIMAL.replace('    key_file:', '    tuning: { probe_interval_ms: 10000 }\n    key_file:'), 's.yaml', { checkKeyFiles: false });
  t.is(slower.links[0].tuning.probe_interval_ms, 10000);
  t.regex(renderEffectiveConfig(slower), /a probe every 10000 ms .*\(<= 11 KiB per hour per end\); first stanza within ~11\.3 s/);
});

test('a probe interval above rto_max_ms, or not positive, is refused at its key', (t) => {
  const text = MINIMAL.replace('    key_file:', '    tuning: { probe_interval_ms: 90000 }\n    key_file:');
  const issues = issuesOf(t, () => parseSiteConfig(text, 's.yaml', { checkKeyFiles: false }));
  t.like(issueAt(t, issues, 'links[0].tuning.probe_interval_ms'), { ...posOf(text, '90000'), message: 'expected at most rto_max_ms (60000), got 90000' });
  const zero = MINIMAL.replace('    key_file:', '    tuning: { probe_interval_ms: 0 }\n    key_file:');
  t.regex(issueAt(t, issuesOf(t, () => parseSiteConfig(zero, 's.yaml', { checkKeyFiles: false })), 'links[0].tuning.probe_interval_ms').message, /^expected a number > 0, got 0$/);
});

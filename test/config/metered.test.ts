/**
 * Metered bearers in the config: `metered:` in a profile or on a link,
 * `policy.urgent`; every mistake named by file, line, key and expectation;
 * `check` says what the metered bearer carries, the budget and its cost.
 */
import test from 'ava';
import { join } from 'node:path';
import { loadProfile, parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { MINIMAL, issueAt, issuesOf, posOf, tempDir, writeFiles } from './helpers.ts';

const load = (text: string, file = 's.yaml') => parseSiteConfig(text, file, { checkKeyFiles: false });
const withMetered = (m: string, base = MINIMAL) => base.replace('    key_file:', `    metered: ${m}\n    key_file:`);

const PROFILE = `description: a metered BGAN test profile
bearer: { rate_bps: 64000, delay_ms: 300 }
metered:
  cost_per_mb: 7.5
  daily_budget_mb: 20
  carry: [messages, iq, presense]
`;

test('a profile\'s metered settings: filled with defaults; a bad class or a missing budget is named at its line in the profile', (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'good.yaml': PROFILE.replace(', presense', ''), 'bad.yaml': PROFILE, 'nobudget.yaml': PROFILE.replace('  daily_budget_mb: 20\n', '').replace(', presense', '') });
  t.deepEqual(loadProfile('good.yaml', dir).metered, { cost_per_mb: 7.5, daily_budget_mb: 20, carry: ['messages', 'iq'], currency: '' });
  t.is(loadProfile('bgan-64k').metered, undefined, 'the shipped profiles are not metered');
  const bad = issuesOf(t, () => loadProfile('bad.yaml', dir));
  t.like(issueAt(t, bad, 'metered.carry[2]'), { ...posOf(PROFILE, 'presense'), message: 'expected one of messages, iq, presence, disco, got "presense"' });
  t.true(bad[0].file.endsWith('bad.yaml'));
  const nob = issuesOf(t, () => loadProfile('nobudget.yaml', dir));
  t.like(issueAt(t, nob, 'metered.daily_budget_mb'), { message: 'missing (expected a number)' });
});

test('a site using a bad metered profile names the link\'s profile key and the profile file\'s line', (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'p.yaml': PROFILE });
  const text = MINIMAL.replace('profile: bgan-64k', 'profile: p.yaml');
  const issues = issuesOf(t, () => load(text, join(dir, 'site.yaml')));
  t.regex(issueAt(t, issues, 'links[0].profile').message, /profile "p.yaml" is invalid/);
  t.like(issueAt(t, issues, 'metered.carry[2]'), posOf(PROFILE, 'presense'));
});

test('links[].metered: set on the link (over its profile), checked at its line; null turns a metered profile off', (t) => {
  const cfg = load(withMetered('{ cost_per_mb: 12, daily_budget_mb: 5, carry: [messages], currency: USD }'));
  t.deepEqual(cfg.links[0].metered, { cost_per_mb: 12, daily_budget_mb: 5, carry: ['messages'], currency: 'USD' });
  t.is(load(MINIMAL).links[0].metered, null);
  const dir = tempDir(t);
  writeFiles(dir, { 'p.yaml': PROFILE.replace(', presense', '') });
  const viaProfile = load(MINIMAL.replace('profile: bgan-64k', 'profile: p.yaml'), join(dir, 'site.yaml'));
  t.is(viaProfile.links[0].metered?.daily_budget_mb, 20);
  t.is(load(withMetered('null', MINIMAL.replace('profile: bgan-64k', 'profile: p.yaml')), join(dir, 'site.yaml')).links[0].metered, null);

  const neg = withMetered('{ cost_per_mb: -1, daily_budget_mb: 0 }');
  const issues = issuesOf(t, () => load(neg));
  t.like(issueAt(t, issues, 'links[0].metered.cost_per_mb'), { ...posOf(neg, '-1,'), message: 'expected a number >= 0, got -1' });
  t.like(issueAt(t, issues, 'links[0].metered.daily_budget_mb'), { ...posOf(neg, '0 }'), message: 'expected a number > 0, got 0' });
  const twice = withMetered('{ cost_per_mb: 1, daily_budget_mb: 1, carry: [iq, iq] }');
  t.regex(issueAt(t, issuesOf(t, () => load(twice)), 'links[0].metered.carry').message, /"iq" twice/);
  const unknown = withMetered('{ cost_per_mb: 1, daily_budget_mb: 1, budget: 3 }');
  t.regex(issueAt(t, issuesOf(t, () => load(unknown)), 'links[0].metered.budget').message, /unknown key/);
});

test('metered on an xep0361 link is refused: it keeps no queue for stanzas to wait in', (t) => {
  const x = MINIMAL.replace('transport: udp', 'transport: xep0361').replace('    bind: "0.0.0.0:5298"\n', '');
  const text = withMetered('{ cost_per_mb: 1, daily_budget_mb: 1 }', x);
  t.like(issueAt(t, issuesOf(t, () => load(text)), 'links[0].metered'), { ...posOf(text, '{ cost_per_mb'), message: 'expected no metered settings on transport xep0361 (it keeps no queue in which stanzas could wait); use udp, serial or tcp' });
  const dir = tempDir(t);
  writeFiles(dir, { 'p.yaml': PROFILE.replace(', presense', '') });
  const viaProfile = x.replace('profile: bgan-64k', 'profile: p.yaml');
  t.regex(issueAt(t, issuesOf(t, () => load(viaProfile, join(dir, 'site.yaml'))), 'links[0].profile').message, /the profile is metered, but transport xep0361/);
  t.is(load(withMetered('null', viaProfile), join(dir, 'site.yaml')).links[0].metered, null, 'metered: null on the link lets it run');
});

test('policy.urgent: defaults to nothing urgent; bad values named at their line', (t) => {
  t.deepEqual(load(MINIMAL).policy.urgent, { from: [], message_types: [], shim_urgency: [] });
  const text = `${MINIMAL}policy:\n  urgent: { from: [Captain@a.example, "bad jid"], message_types: [alert], shim_urgency: [urgent] }\n`;
  const issues = issuesOf(t, () => load(text));
  t.like(issueAt(t, issues, 'policy.urgent.from[1]'), { ...posOf(text, '"bad jid"'), message: 'expected a JID or a domain without spaces' });
  t.like(issueAt(t, issues, 'policy.urgent.message_types[0]'), { ...posOf(text, 'alert'), message: 'expected one of chat, error, groupchat, headline, normal, got "alert"' });
  t.like(issueAt(t, issues, 'policy.urgent.shim_urgency[0]'), { ...posOf(text, 'urgent]'), message: 'expected one of high, medium, low, got "urgent"' });
  const ok = load(`${MINIMAL}policy:\n  urgent: { from: [Captain@a.example], shim_urgency: [high] }\n`);
  t.deepEqual(ok.policy.urgent.from, ['captain@a.example']);
});

test('check prints what the metered bearer carries, what waits, the budget and its cost, and the urgent rule; its output loads back the same', (t) => {
  const text = `${withMetered('{ cost_per_mb: 7.5, daily_budget_mb: 20, currency: USD }')}policy:\n  urgent: { from: [captain@a.example], shim_urgency: [high] }\n`;
  const cfg = load(text);
  const out = renderEffectiveConfig(cfg);
  t.regex(out, /# {3}metered: carries messages, iq; presence and disco wait for an unmetered bearer \(bounced after held_stanza_timeout_s, 600 s\)/);
  t.regex(out, /# {3}budget: 20 MB per UTC day, sent and received, at 7\.50 USD per MB \(150\.00 USD for the whole budget\); once spent: only stanzas from captain@a\.example or XEP-0131 Urgency high/);
  t.regex(out, /carry: \["messages", "iq"\] +# stanza classes carried on this bearer/);
  t.regex(out, /urgent: +# stanzas that still cross a metered bearer whose daily budget is spent/);
  t.regex(renderEffectiveConfig(load(MINIMAL)), /metered: null +# bearer billed per MB/);
  const again = load(out);
  t.deepEqual(again.links[0].metered, cfg.links[0].metered);
  t.deepEqual(again.policy.urgent, cfg.policy.urgent);
});

/** links[].limits (hub mode: a spool per link) and link names that become spool directories. */
import test from 'ava';
import { join } from 'node:path';
import { parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { MINIMAL, issueAt, issuesOf, newKey, posOf, tempDir, writeFiles } from './helpers.ts';

function dirWithKey(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t);
  writeFiles(dir, { 'keys/shore.key': newKey() });
  return dir;
}

test('links[].limits: given keys override the site limits, the rest default to them; the render comments and round-trips them', (t) => {
  const dir = dirWithKey(t);
  const text = `${MINIMAL}    limits: { spool_max_stanzas: 10 }\nlimits: { spool_max_bytes: 1000, spool_max_stanzas: 99 }\n`;
  const cfg = parseSiteConfig(text, join(dir, 'site.yaml'));
  t.deepEqual(cfg.links[0].limits, { spool_max_bytes: 1000, spool_max_stanzas: 10 });
  const rendered = renderEffectiveConfig(cfg);
  t.regex(rendered, /^ {4}limits: +# this link's own spool \(data_dir\/spool\/<name>\)/m);
  t.regex(rendered, /^ {6}spool_max_stanzas: 10 +# /m);
  t.deepEqual(parseSiteConfig(rendered, join(dir, 'effective.yaml')).links[0].limits, cfg.links[0].limits);
});

test('links[].limits errors name file, line, key and what was expected', (t) => {
  const text = `${MINIMAL}    limits: { spool_max_stanzas: 0, spool_max_bytes: "1 GB", max_stanza_bytes: 5 }\n  - { name: x, domains: [x.example], profile: lan, transport: xep0361, peer: "10.0.0.1:5269", limits: { spool_max_stanzas: 5 } }\n`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 'site.yaml', { checkKeyFiles: false }));
  const zero = issueAt(t, issues, 'links[0].limits.spool_max_stanzas');
  t.like(zero, { file: 'site.yaml', ...posOf(text, '0, spool_max_bytes') });
  t.regex(zero.message, /expected a number > 0, got 0/);
  t.regex(issueAt(t, issues, 'links[0].limits.spool_max_bytes').message, /expected a number, got "1 GB"/);
  t.regex(issueAt(t, issues, 'links[0].limits.max_stanza_bytes').message, /unknown key; expected one of spool_max_bytes, spool_max_stanzas/);
  const x = issueAt(t, issues, 'links[1].limits');
  t.regex(x.message, /only used by spooled transports/);
  t.is(x.line, posOf(text, 'limits: { spool_max_stanzas: 5').line);
});

test('link names are spool directories: "." and ".." are refused, and so are names differing only in case', (t) => {
  const link = (name: string, dom: string) => `  - { name: "${name}", domains: [${dom}], profile: lan, transport: udp, peer: "10.0.0.1:1", key_file: keys/shore.key }\n`;
  const text = `${MINIMAL}${link('..', 'c.example')}${link('.', 'd.example')}${link('Shore', 'e.example')}`;
  const issues = issuesOf(t, () => parseSiteConfig(text, 'site.yaml', { checkKeyFiles: false }));
  t.regex(issueAt(t, issues, 'links[1].name').message, /expected a name other than "\." or "\.\."/);
  t.regex(issueAt(t, issues, 'links[2].name').message, /expected a name other than/);
  const c = issueAt(t, issues, 'links[3].name');
  t.regex(c.message, /differs from links\[0\] "shore" by more than case/);
  t.is(c.line, posOf(text, '"Shore"').line);
});

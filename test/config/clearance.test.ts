/** Site-file keys for XEP-0258 labels: links[].clearance, local.clearance, links[].equivalence. */
import test from 'ava';
import { join } from 'node:path';
import { loadSiteConfig, parseSiteConfig, renderEffectiveConfig } from '../../src/config/index.ts';
import { MINIMAL, issueAt, issuesOf, newKey, posOf, tempDir, writeFiles } from './helpers.ts';

const withClearance = (clearance: string, extra = ''): string => `${MINIMAL}    clearance:\n${clearance}${extra}`;

test('a clearance fills its defaults (unlabeled refuse, RFC 2634 markings) and round-trips through check', (t) => {
  const dir = tempDir(t);
  const text = withClearance(`      policies: ["1.3.6.1.4.1.99999.1"]\n      max_classification: 2\n`, `    equivalence:\n      - local: { policy: "1.2.826.0.1.1", classification: 2 }\n        remote: { policy: "1.3.6.1.4.1.99999.1", marking: "NATO RESTRICTED" }\n`);
  writeFiles(dir, { 'site.yaml': text, 'keys/shore.key': newKey() });
  const cfg = loadSiteConfig(join(dir, 'site.yaml'));
  t.deepEqual(cfg.links[0].clearance, {
    policies: ['1.3.6.1.4.1.99999.1'], max_classification: 2, unlabeled: 'refuse',
    categories: { required: [], allowed: null },
    markings: { '0': 'UNMARKED', '1': 'UNCLASSIFIED', '2': 'RESTRICTED', '3': 'CONFIDENTIAL', '4': 'SECRET', '5': 'TOP SECRET' },
  });
  t.deepEqual(cfg.links[0].equivalence, [{ local: { policy: '1.2.826.0.1.1', classification: 2 }, remote: { policy: '1.3.6.1.4.1.99999.1', marking: 'NATO RESTRICTED' } }]);
  t.is(cfg.local.clearance, null, 'not set: labels are not checked on the way in');
  writeFiles(dir, { 'effective.yaml': renderEffectiveConfig(cfg) });
  const again = loadSiteConfig(join(dir, 'effective.yaml'));
  t.deepEqual({ ...again, sourceFile: cfg.sourceFile }, cfg);
});

test('clearance mistakes are reported at file:line with the key and what was expected', (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'keys/shore.key': newKey() });
  const file = join(dir, 'site.yaml');
  const text = withClearance(`      policies: ["not-an-oid"]\n      max_classification: 300\n      unlabeled: maybe\n      categories: { required: ["x"] }\n`);
  const issues = issuesOf(t, () => parseSiteConfig(text, file));
  const pol = issueAt(t, issues, 'links[0].clearance.policies[0]');
  t.like(pol, { ...posOf(text, '"not-an-oid"'), file });
  t.regex(pol.message, /expected a policy OID/);
  t.regex(issueAt(t, issues, 'links[0].clearance.max_classification').message, /<= 256/);
  t.regex(issueAt(t, issues, 'links[0].clearance.unlabeled').message, /expected pass, refuse or a default label/);
  t.regex(issueAt(t, issues, 'links[0].clearance.categories.required[0]').message, /expected a category/);

  const missing = issuesOf(t, () => parseSiteConfig(withClearance(`      max_classification: 1\n`), file));
  t.regex(issueAt(t, missing, 'links[0].clearance.policies').message, /missing/);
});

test('a default label outside its own clearance is a config error, not a relay that refuses everything', (t) => {
  const file = join(tempDir(t), 'site.yaml');
  const text = withClearance(`      policies: ["1.3.6.1.4.1.99999.1"]\n      max_classification: 1\n      unlabeled: { policy: "1.3.6.1.4.1.99999.1", classification: 3 }\n`);
  const issues = issuesOf(t, () => parseSiteConfig(text, file, { checkKeyFiles: false }));
  const i = issueAt(t, issues, 'links[0].clearance.unlabeled');
  t.regex(i.message, /classification 3 is above max_classification 1/);
  const bad = withClearance(`      policies: ["1.3.6.1.4.1.99999.1"]\n      max_classification: 1\n      unlabeled: { policy: "1.2.3", classification: 1, colour: red }\n`);
  t.regex(issueAt(t, issuesOf(t, () => parseSiteConfig(bad, file, { checkKeyFiles: false })), 'links[0].clearance.unlabeled.colour').message, /unknown key/);
});

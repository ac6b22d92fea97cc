import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSiteConfig, s2sAdmission, s2sTimeoutsMs } from '../../src/config/index.ts';
import { DEFAULT_TIMEOUTS } from '../../src/s2s/options.ts';
import { DEFAULT_ADMISSION } from '../../src/s2s/admission.ts';
import { MINIMAL, newKey, tempDir, writeFiles } from './helpers.ts';

const guide = readFileSync(new URL('../../docs/operator-guide.md', import.meta.url), 'utf8');

/** The bracketed defaults of the operator guide's row for `key`, as numbers. */
function documented(key: string): number[] {
  const row = guide.split('\n').find((l) => l.startsWith('|') && l.includes(key) && l.includes('['));
  if (!row) throw new Error(`no row for ${key} in docs/operator-guide.md`);
  return /\[([^\]]+)\]/.exec(row)![1].split(',').map((s) => Number(s.trim()));
}

test('the S2S service without a site file uses the site file defaults, and both are the operator guide\'s', (t) => {
  const dir = tempDir(t);
  writeFiles(dir, { 'keys/shore.key': newKey(), 'site.yaml': MINIMAL });
  const cfg = loadSiteConfig(join(dir, 'site.yaml'));
  t.deepEqual(DEFAULT_TIMEOUTS, s2sTimeoutsMs(cfg.s2s, cfg.limits), 'S2S timeouts: service default = site default');
  t.deepEqual(DEFAULT_ADMISSION, s2sAdmission(cfg.s2s), 'S2S admission: service default = site default');
  const [connect, auth, idle] = documented('`s2s.connect_timeout_s`');
  const [held] = documented('`limits.held_stanza_timeout_s`');
  t.deepEqual(DEFAULT_TIMEOUTS, { connectMs: connect * 1000, authMs: auth * 1000, idleMs: idle * 1000, queueMs: held * 1000 }, 'as the operator guide says');
});

/** Temp-dir fixtures for config tests: site files, key files, profiles. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { ConfigError, generateKeyText, type ConfigIssue } from '../../src/config/index.ts';

/** A fresh directory removed after the test. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes files (relative path -> text) under dir; key files get mode 600. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    if (rel.endsWith('.key')) chmodSync(p, 0o600);
  }
}

export function newKey(): string {
  return generateKeyText();
}

/** 1-based line/column where `needle` starts in `text` (plus `skip` characters); fails if absent or ambiguous. */
export function posOf(text: string, needle: string, skip = 0): { line: number; col: number } {
  const i = text.indexOf(needle);
  if (i < 0) throw new Error(`fixture lacks ${JSON.stringify(needle)}`);
  if (text.indexOf(needle, i + 1) >= 0) throw new Error(`fixture has ${JSON.stringify(needle)} twice`);
  const at = i + skip;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const col = at - (before.lastIndexOf('\n') + 1) + 1;
  return { line, col };
}

/** Runs fn, expects a ConfigError, returns its issues. */
export function issuesOf(t: ExecutionContext, fn: () => unknown): ConfigIssue[] {
  const err = t.throws(fn, { instanceOf: ConfigError });
  t.is(err?.code, 'CONFIG_INVALID');
  return err?.issues ?? [];
}

/** The one issue at `path`; fails the test (with all issues shown) if there is not exactly one. */
export function issueAt(t: ExecutionContext, issues: ConfigIssue[], path: string): ConfigIssue {
  const found = issues.filter((i) => i.path === path);
  if (found.length !== 1) t.fail(`expected one issue at ${path}, got ${found.length}: ${JSON.stringify(issues, null, 1)}`);
  return found[0] ?? { file: '', path, message: '' };
}

/** A minimal valid site file (udp link to "shore" with keys/shore.key, profile bgan-64k). */
export const MINIMAL = `site: ship-1
local:
  domains: [a.example]
links:
  - name: shore
    domains: [b.example]
    profile: bgan-64k
    transport: udp
    bind: "0.0.0.0:5298"
    peer: "127.0.0.1:5299"
    key_file: keys/shore.key
`;

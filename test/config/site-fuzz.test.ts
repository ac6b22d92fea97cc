/**
 * Fuzzing the site-file and profile loaders (fast-check, seeded): random
 * YAML-ish text, random mutations of a valid file (deleted keys, wrong types,
 * out-of-range numbers, unknown keys, bad host:port, broken YAML) and random
 * bytes. Whatever the input, the loader either returns a config that survives
 * render -> parse unchanged, or throws ConfigError whose every issue names the
 * file, a line and column inside it, the key path and what was wrong; never
 * another exception. Seed: SITE_FUZZ_SEED; runs: SITE_FUZZ_RUNS.
 */
import test from 'ava';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  ConfigError,
  PROFILES_DIR,
  loadSiteConfig,
  parseSiteConfig,
  renderEffectiveConfig,
  type ConfigIssue,
  type SiteConfig,
} from '../../src/config/index.ts';
import { parseProfileText } from '../../src/config/profile.ts';
import { newKey, tempDir, writeFiles } from './helpers.ts';

const SEED = Number(process.env.SITE_FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.SITE_FUZZ_RUNS ?? 400);

/** A valid site file using most keys: four transports, per-link limits, tuning overrides. */
const BASE = `site: shore
data_dir: data
local:
  domains: [b.example, muc.b.example]
  listen: ["127.0.0.1:25269"]
  direct_tls_listen: ["127.0.0.1:25270"]
  routes: { b.example: "127.0.0.3:5269", muc.b.example: "[::1]:5270" }
  tls: { require: false }
links:
  - name: ship1
    domains: [a.example, "*.a.example"]
    profile: bgan-64k
    transport: udp
    bind: "127.0.0.1:25299"
    peer: "127.0.0.1:15299"
    key_file: keys/ship1.key
    limits: { spool_max_bytes: 1048576, spool_max_stanzas: 500 }
    reconnect: { min_s: 1, max_s: 30 }
    tuning: { frame_bytes: 1000, keepalive_s: 20 }
  - name: ship2
    domains: [c.example]
    profile: hf-1200
    transport: serial
    device: /dev/ttyUSB0
    baud: 2400
    key_file: keys/ship2.key
  - name: ship3
    domains: [d.example]
    profile: lan
    transport: tcp
    peer: "ship3.example:5300"
    key_file: keys/ship2.key
  - name: legacy
    domains: ["*"]
    profile: vsat-1m
    transport: xep0361
    peer: "10.0.0.9:5269"
    acks: false
optimize: { presence: fold, disco_cache: true, fanout: false, drop: [chatstates, xhtml] }
policy: { allow: ["*"], block: [evil.example], block_namespaces: ["urn:xmpp:jingle:1"] }
metrics: { listen: "127.0.0.1:29105" }
log: { level: warn }
limits: { max_stanza_bytes: 65536, held_stanza_timeout_s: 900, spool_max_bytes: 8388608, spool_max_stanzas: 1000 }
s2s: { connect_timeout_s: 10, auth_timeout_s: 10, idle_timeout_s: 300, dialback: true, sasl_external: false, dns_servers: ["127.0.0.53"] }
`;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = Array<string | number>;

/** Every path in a plain value (mappings and lists, leaves included). */
function paths(v: Json, at: Path = []): Path[] {
  const out: Path[] = at.length ? [at] : [];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function parentOf(root: Json, path: Path): { parent: Json[] | { [k: string]: Json }; key: string | number } {
  let v = root as Json;
  for (const seg of path.slice(0, -1)) v = (v as Record<string | number, Json>)[seg];
  return { parent: v as Json[] | { [k: string]: Json }, key: path[path.length - 1] };
}

/** Values of the wrong type, out of range, or malformed addresses. */
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null, true, false, 0, -1, 1.5, 65536, 1e300, -0, Number.MAX_SAFE_INTEGER + 2, '', ' ', '*', '*.', 'x', '..', '.', 'UPPER.Example',
    '127.0.0.1', '127.0.0.1:99999', '127.0.0.1:-1', ':5269', '[::1', '[::1]x', '::1:5269', 'host:port', 'a..b:1', '999.1.1.1:5',
    '[fe80::1%eth0]:5', 'bgan-64', 'profiles/../../etc/passwd', '/nonexistent/p.yaml', 'udp ', 'XEP0361', 'null', '~', '0x10',
    [], [null], ['*'], [1, 2], {}, { a: 1 }, { spool_max_bytes: 0 }, 'a\u0000b', '😀', 'x'.repeat(300),
  ),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: false }),
  fc.string({ maxLength: 20 }),
);
/** Key names: near-misses of real keys, reserved-looking ones and random. */
const oddKey = fc.oneof(
  fc.constantFrom('profle', 'transprot', 'limit', 'spool_max_byte', 'Site', 'links ', '__proto__', 'constructor', 'toString', '0', '', 'link_down_after_s', 'tuning', 'limits'),
  fc.string({ minLength: 1, maxLength: 12 }),
);

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'set'; at: number; value: Json }
  | { kind: 'addKey'; at: number; key: string; value: Json }
  | { kind: 'dupItem'; at: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: oddValue }),
  fc.record({ kind: fc.constant('addKey' as const), at: fc.nat(), key: oddKey, value: oddValue }),
  fc.record({ kind: fc.constant('dupItem' as const), at: fc.nat() }),
);

function applyMutation(root: Json, m: Mutation): void {
  const all = paths(root);
  if (all.length === 0) return;
  const path = all[m.at % all.length];
  const { parent, key } = parentOf(root, path);
  const target = (parent as Record<string | number, Json>)[key];
  switch (m.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 'set':
      (parent as Record<string | number, Json>)[key] = structuredClone(m.value);
      break;
    case 'addKey':
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        Object.defineProperty(target, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
      }
      break;
    case 'dupItem':
      if (Array.isArray(parent)) parent.push(structuredClone(parent[key as number]));
      break;
  }
}

/** Text-level damage: YAML punctuation inserted, characters deleted, lines swapped or cut short. */
type TextEdit = { kind: 'insert'; at: number; s: string } | { kind: 'delete'; at: number; n: number } | { kind: 'swapLines'; a: number; b: number } | { kind: 'truncate'; at: number };
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    s: fc.constantFrom(':', ': ', '- ', '{', '}', '[', ']', ',', '#', '&a ', '*a', '*b', '!!str ', '!!binary ', '!custom ', '? ', '|', '>', "'", '"', '\t', '\n', '  ', '%YAML 1.2\n', '---\n', '...\n', '<<: *a\n', '\uFEFF', '\r', '\\', '@', '`', 'x: 1\n'),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyTextEdit(text: string, e: TextEdit): string {
  const at = (n: number) => n % (text.length + 1);
  switch (e.kind) {
    case 'insert':
      return text.slice(0, at(e.at)) + e.s + text.slice(at(e.at));
    case 'delete':
      return text.slice(0, at(e.at)) + text.slice(at(e.at) + e.n);
    case 'swapLines': {
      const lines = text.split('\n');
      const [a, b] = [e.a % lines.length, e.b % lines.length];
      [lines[a], lines[b]] = [lines[b], lines[a]];
      return lines.join('\n');
    }
    case 'truncate':
      return text.slice(0, at(e.at));
  }
}

const baseData = parseYaml(BASE) as Json;

/** A valid file with 1-4 structural mutations, then 0-2 text edits. */
const mutatedSite = fc
  .tuple(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(textEdit, { maxLength: 2 }), fc.boolean())
  .map(([ms, edits, flow]) => {
    const data = structuredClone(baseData);
    for (const m of ms) applyMutation(data, m);
    let text = stringifyYaml(data, flow ? { collectionStyle: 'flow' } : {});
    for (const e of edits) text = applyTextEdit(text, e);
    return text;
  });

/** Token soup that looks like YAML (keys of the site file, indicators, anchors, tags). */
const yamlish = fc
  .array(
    fc.oneof(
      fc.constantFrom('site', 'links', 'local', 'domains', 'name', 'profile', 'transport', 'peer', 'limits', 'tuning', 'key_file', 'udp', 'lan', 'a.example', '127.0.0.1:1'),
      fc.constantFrom(': ', ':', '\n', '\n  ', '\n    ', '- ', '  - ', '{', '}', '[', ']', ', ', '&a ', '*a', '&b [*a, *a, *a, *a]', '!!map ', '!!seq ', '!!int ', '!!float ', '? ', '|\n  ', '>-\n  ', "'", '"', '#', 'null', '~', '.nan', '.inf', '-.inf', '1e999', '0x1F', '0o17', '<<: *a', '---\n', '%TAG ! tag:x,2000:\n', '\t', '\\u0000'),
      fc.string({ maxLength: 6 }),
      fc.integer().map(String),
    ),
    { maxLength: 60 },
  )
  .map((a) => a.join(''));

/** Random bytes, decoded as the loader would decode the file. */
const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('utf8'));

// ---- the oracle ---------------------------------------------------------------

/** Raw zod messages mean an issue slipped through without our "expected ..." wording. */
const ZOD_DEFAULT = /^(Required|Invalid input|Invalid$|Invalid (enum|literal|type)|Expected .*, received|Unrecognized key|String must|Number must|Array must)/;
/** Every message says what was wrong and what would be right. */
const EXPLAINS = /expected|unknown|did you mean|missing|duplicate|not found|not used|only used|overlaps|already routed|clashes|needs|YAML syntax|cannot read|is invalid/;

function problemWithIssue(i: ConfigIssue, file: string, lineCount: number): string | undefined {
  if (typeof i.file !== 'string' || i.file === '') return 'no file';
  if (typeof i.message !== 'string' || i.message.trim() === '') return 'no message';
  if (ZOD_DEFAULT.test(i.message)) return `raw zod message ${JSON.stringify(i.message)}`;
  if (!EXPLAINS.test(i.message)) return `message does not say what was expected: ${JSON.stringify(i.message)}`;
  if (/\[object Object\]|\bundefined\b(?!")/.test(i.message)) return `garbled message ${JSON.stringify(i.message)}`;
  if (typeof i.path !== 'string') return 'path is not a string';
  if (i.file !== file) {
    // a profile's issue: it names a profile file
    return /\.ya?ml$|profile/.test(i.file) ? undefined : `issue names an unexpected file ${i.file}`;
  }
  if (!Number.isInteger(i.line) || i.line! < 1 || i.line! > lineCount + 1) return `line ${i.line} outside 1..${lineCount + 1}`;
  if (!Number.isInteger(i.col) || i.col! < 1) return `column ${i.col}`;
  const wholeDoc = i.message.startsWith('YAML') || i.message.startsWith('expected a mapping');
  if (!wholeDoc && i.path === '') return `no key path for ${JSON.stringify(i.message)}`;
  return undefined;
}

/** Derived fields aside, what a rendered config parses back to must equal the original. */
function roundTripProblem(cfg: SiteConfig, file: string): string | undefined {
  const text = renderEffectiveConfig(cfg);
  let again: SiteConfig;
  try {
    again = parseSiteConfig(text, file, { onWarning: () => {} });
  } catch (err) {
    return `rendered config does not load: ${(err as Error).message}\n${text}`;
  }
  const a = JSON.stringify(again);
  const b = JSON.stringify(cfg);
  return a === b ? undefined : `render -> parse changed the config:\n${b}\n${a}`;
}

/** Runs fn, turning a process warning it emits (e.g. from the yaml library) into a problem. */
function noWarnings(fn: () => string | undefined): string | undefined {
  const orig = process.emitWarning;
  let warned: string | undefined;
  process.emitWarning = ((w: string | Error) => {
    warned ??= typeof w === 'string' ? w : w.message;
  }) as typeof process.emitWarning;
  try {
    const p = fn();
    return p ?? (warned === undefined ? undefined : `the loader emitted a process warning: ${warned}`);
  } finally {
    process.emitWarning = orig;
  }
}

/** undefined when the loader behaved; else what went wrong. */
function siteProblem(text: string, file: string): string | undefined {
  return noWarnings(() => siteProblemInner(text, file));
}

function siteProblemInner(text: string, file: string): string | undefined {
  let cfg: SiteConfig;
  try {
    cfg = parseSiteConfig(text, file, { onWarning: () => {} });
  } catch (err) {
    if (!(err instanceof ConfigError)) return `threw ${(err as Error)?.constructor?.name}: ${(err as Error)?.stack ?? String(err)}`;
    if (err.code !== 'CONFIG_INVALID') return `code ${err.code}`;
    if (err.issues.length === 0) return 'ConfigError without issues';
    const lineCount = text.split(/\r\n|\r|\n/).length;
    for (const i of err.issues) {
      const p = problemWithIssue(i, file, lineCount);
      if (p) return `${p}\nissue: ${JSON.stringify(i)}`;
    }
    return undefined;
  }
  return roundTripProblem(cfg, file);
}

function siteDir(t: Parameters<typeof tempDir>[0]): string {
  const dir = tempDir(t);
  writeFiles(dir, { 'keys/ship1.key': newKey(), 'keys/ship2.key': newKey() });
  return dir;
}

function assertProperty(t: Parameters<typeof tempDir>[0], arb: fc.Arbitrary<string>, check: (text: string) => string | undefined, runs = RUNS): void {
  const found = fc.check(fc.property(arb, (text) => check(text) === undefined), { seed: SEED, numRuns: runs });
  if (found.failed) {
    const text = found.counterexample![0];
    t.fail(`seed ${SEED} path ${found.counterexamplePath}: input ${JSON.stringify(text)}\n${check(text)}`);
  } else t.pass();
}

// ---- site file ------------------------------------------------------------------

test('the fuzz base is a valid site file (so mutations start from something that loads)', (t) => {
  const dir = siteDir(t);
  const cfg = parseSiteConfig(BASE, join(dir, 'site.yaml'));
  t.is(cfg.links.length, 4);
  t.deepEqual(cfg.links[0].limits, { spool_max_bytes: 1048576, spool_max_stanzas: 500 });
  t.deepEqual(cfg.links[1].limits, { spool_max_bytes: 8388608, spool_max_stanzas: 1000 }, 'site limits are the per-link default');
  t.is(cfg.links[3].limits, null, 'xep0361 keeps no spool');
  t.is(siteProblem(BASE, join(dir, 'site.yaml')), undefined);
});

test('mutated site files: a config that round-trips, or ConfigError issues with file, line, key and expectation', (t) => {
  const file = join(siteDir(t), 'site.yaml');
  assertProperty(t, mutatedSite, (text) => siteProblem(text, file));
});

test('YAML-ish token soup: only ConfigError, every issue positioned', (t) => {
  const file = join(siteDir(t), 'site.yaml');
  assertProperty(t, yamlish, (text) => siteProblem(text, file));
});

test('random bytes through loadSiteConfig: only ConfigError', (t) => {
  const dir = siteDir(t);
  const file = join(dir, 'site.yaml');
  assertProperty(t, bytes, (text) => {
    writeFileSync(file, text);
    try {
      loadSiteConfig(file, { onWarning: () => {} });
      return 'random bytes loaded as a site file';
    } catch (err) {
      if (!(err instanceof ConfigError)) return `threw ${(err as Error).stack}`;
      return siteProblem(text, file);
    }
  }, Math.ceil(RUNS / 2));
});

test('hostile YAML: alias bombs, deep nesting, merge keys, odd keys and tags end in ConfigError', (t) => {
  const file = join(siteDir(t), 'site.yaml');
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 9; i++) bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`);
  const cases: Record<string, string> = {
    'alias bomb': `${bomb.join('\n')}\nsite: x\n`,
    'alias bomb inside a key': `site: shore\nlocal: { domains: &d [b.example, b.example, b.example] }\nlinks: &l [*d, *d, *d, *d]\npolicy: { allow: [*l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l, *l] }\n`,
    'deep flow nesting': `site: ${'['.repeat(5000)}${']'.repeat(5000)}\n`,
    'deep block nesting': `site: shore\nlocal:\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(2 * i + 2)}k${i}:`).join('\n')} 1\n`,
    'merge key': `base: &b { domains: [b.example] }\nsite: shore\nlocal: { <<: *b }\nlinks: []\n`,
    'undefined alias': `site: *nope\n`,
    'complex key': `? [a, b]\n: 1\nsite: shore\n`,
    'duplicate keys': BASE.replace('site: shore', 'site: shore\nsite: ship'),
    'prototype keys': `site: shore\n__proto__: { polluted: 1 }\nconstructor: 1\nlocal: { domains: [b.example], __proto__: [] }\nlinks: [{ name: x, __proto__: 1 }]\n`,
    'unknown tag': `site: !custom shore\nlocal: !!binary aGk=\n`,
    'several documents': `${BASE}---\n${BASE}`,
    'a bare list': '- a\n- b\n',
    'only a comment': '# nothing here\n',
    empty: '',
    'BOM and CRLF': `\uFEFF${BASE.replace(/\n/g, '\r\n').replace('profile: hf-1200', 'profile: 12')}`,
    'NUL in a path': BASE.replace('key_file: keys/ship1.key', 'key_file: "keys/\\0ship1.key"').replace('profile: lan', 'profile: "p\\0.yaml"'),
    'huge numbers': BASE.replace('spool_max_stanzas: 500', 'spool_max_stanzas: 1e400').replace('baud: 2400', 'baud: 0x7fffffffffffffffff'),
  };
  for (const [name, text] of Object.entries(cases)) {
    t.is(siteProblem(text, file), undefined, name);
  }
  t.throws(() => parseSiteConfig(cases['alias bomb'], file), { instanceOf: ConfigError }, 'the bomb is refused, not expanded');
});

// ---- profiles --------------------------------------------------------------------

function profileProblem(text: string, file: string): string | undefined {
  return noWarnings(() => profileProblemInner(text, file));
}

function profileProblemInner(text: string, file: string): string | undefined {
  let res: ReturnType<typeof parseProfileText>;
  try {
    res = parseProfileText(text, file, 'fuzz-profile.yaml');
  } catch (err) {
    return `threw ${(err as Error).stack}`;
  }
  if (res.loaded) return res.issues.length === 0 ? undefined : 'loaded with issues';
  if (res.issues.length === 0) return 'neither loaded nor issues';
  const lineCount = text.split(/\r\n|\r|\n/).length;
  for (const i of res.issues) {
    const p = problemWithIssue(i, 'fuzz-profile.yaml', lineCount);
    // a profile's whole-document issues (tuning checks) may sit at 'tuning'
    if (p) return `${p}\nissue: ${JSON.stringify(i)}`;
  }
  return undefined;
}

const profileBases = ['hf-1200', 'bgan-64k', 'lossy-test'].map((n) => parseYaml(readFileSync(join(PROFILES_DIR, `${n}.yaml`), 'utf8')) as Json);
const mutatedProfile = fc
  .tuple(fc.nat({ max: profileBases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(textEdit, { maxLength: 2 }))
  .map(([b, ms, edits]) => {
    const data = structuredClone(profileBases[b]);
    for (const m of ms) applyMutation(data, m);
    let text = stringifyYaml(data);
    for (const e of edits) text = applyTextEdit(text, e);
    return text;
  });

test('mutated profiles, YAML-ish text and bytes: the profile loader returns issues with positions, never throws', (t) => {
  const file = join(tempDir(t), 'fuzz-profile.yaml');
  assertProperty(t, fc.oneof(mutatedProfile, yamlish, bytes), (text) => profileProblem(text, file));
});

/**
 * The import rules of .dependency-cruiser.cjs hold for src/: dependency-cruiser
 * itself runs on src/ (its JSON report), and on a small fixture tree, once clean
 * and once with one deliberately bad import per rule, to show each rule bites.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOWN_LONG_FILES, KNOWN_VIOLATIONS, MAX_LINES } from './known-violations.ts';

// The source tree, also when this runs compiled from build/ (whose package.json is a link).
const ROOT = dirname(realpathSync(fileURLToPath(new URL('../../package.json', import.meta.url))));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Cruise {
  /** `rule: from → to`, as `npx depcruise src` prints them. */
  violations: string[];
  /** src/ modules cruised. */
  modules: string[];
  unresolved: string[];
}

/** Runs depcruise on `cwd`/src with the project's rules; its exit code is the error count, so a non-zero exit is a report too. */
function cruise(cwd: string): Promise<Cruise> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let report: { summary: { violations: Array<{ from: string; to: string; rule: { name: string } }> }; modules: Array<{ source: string; dependencies: Array<{ module: string; couldNotResolve: boolean }> }> };
      try {
        report = JSON.parse(out);
      } catch {
        return reject(new Error(`depcruise exited ${code} without a JSON report: ${err.slice(0, 2000)}`));
      }
      const src = report.modules.filter((m) => m.source.startsWith('src/'));
      resolve({
        violations: report.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort(),
        modules: src.map((m) => m.source).sort(),
        unresolved: src.flatMap((m) => m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`)),
      });
    });
  });
}

test('src/ keeps the import rules: no violation beyond the known ones, and every known one still occurs', async (t) => {
  const r = await cruise(ROOT);
  t.true(r.modules.length > 100, `depcruise cruised only ${r.modules.length} src modules`);
  t.true(r.modules.includes('src/cli/main.ts') && r.modules.includes('src/relay/relay.ts'));
  t.deepEqual(r.unresolved, [], 'every import in src/ resolves (an unresolved one would escape the rules)');
  const known = KNOWN_VIOLATIONS.flatMap((k) => k.violations);
  const unknown = r.violations.filter((v) => !known.includes(v));
  const gone = known.filter((v) => !r.violations.includes(v));
  t.deepEqual(unknown, [], 'new import-rule violations in src/ (rules and reasons: .dependency-cruiser.cjs, docs/architecture.md)');
  t.deepEqual(gone, [], 'these no longer occur: delete them from test/layers/known-violations.ts');
});

test(`no src/ file is over ${MAX_LINES} lines beyond the known ones, and each known one still is`, (t) => {
  const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => /\.(ts|js|mts)$/.test(f)).map((f) => `src/${f}`);
  t.true(files.includes('src/relay/router.ts'));
  const long = files.filter((f) => readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1 > MAX_LINES).sort();
  const known = KNOWN_LONG_FILES.map((k) => k.file);
  t.deepEqual(long.filter((f) => !known.includes(f)), [], `split these: no src/ file over ${MAX_LINES} lines`);
  t.deepEqual(known.filter((f) => !long.includes(f)), [], 'these are short now: delete them from test/layers/known-violations.ts');
});

/** A small tree that keeps every rule: each row imports one below it. */
const CLEAN: Record<string, string> = {
  'src/cli/main.ts': "import { world } from '../sim/world.ts';\nexport const main = world;\n",
  'src/sim/world.ts': "import { relay } from '../relay/relay.ts';\nimport { bearer } from '../emulator/engine.ts';\nexport const world = [relay, bearer];\n",
  'src/relay/relay.ts': "import { port } from '../link/port.ts';\nimport { queue } from '../optimize/queue.ts';\nimport { site } from '../config/site.ts';\nexport const relay = [port, queue, site];\n",
  'src/link/port.ts': "import { jid } from '../xmpp/jid.ts';\nimport { clock } from '../time/clock.ts';\nexport const port = [jid, clock];\n",
  'src/link/core/endpoint.ts': "import { port } from '../port.ts';\nexport const endpoint = port;\n",
  'src/link/constrained/link.ts': "import { endpoint } from '../core/endpoint.ts';\nexport const link = endpoint;\n",
  'src/optimize/queue.ts': "import type { El } from '../xml/element.ts';\nexport const queue: El[] = [];\n",
  'src/emulator/engine.ts': "import { log } from '../obs/log.ts';\nexport const bearer = log;\n",
  'src/config/site.ts': "import { spool } from '../spool/spool.ts';\nexport const site = spool;\n",
  'src/spool/spool.ts': "import { log } from '../obs/log.ts';\nexport const spool = log;\n",
  'src/xmpp/jid.ts': "import { el } from '../xml/element.ts';\nexport const jid = el;\n",
  'src/xml/element.ts': "import { log } from '../obs/log.ts';\nexport type El = string;\nexport const el = log;\n",
  'src/time/clock.ts': 'export const clock = 0;\n',
  'src/obs/log.ts': 'export const log = 0;\n',
  'bench/run.ts': 'export const run = 0;\n',
  'test/helpers/h.ts': 'export const h = 0;\n',
};

/** One bad import per rule (on top of CLEAN), and what depcruise must say about each. */
const BAD: Record<string, string> = {
  // what the shipped CLI once did: a lazy import of the benchmark
  'src/cli/commands.ts': "export const bench = async () => (await import('../../bench/run.ts')).run;\n",
  'src/spool/check.ts': "import { h } from '../../test/helpers/h.ts';\nexport const check = h;\n",
  // type-only, and upward: xml/ reaching for xmpp/ (xmpp/ imports xml/, so also a folder cycle)
  'src/xml/stream-error.ts': "import type { jid } from '../xmpp/jid.ts';\nexport type E = typeof jid;\n",
  'src/link/schedule.ts': "import { queue } from '../optimize/queue.ts';\nexport const schedule = queue;\n",
  'src/relay/bearer.ts': "import { bearer } from '../emulator/engine.ts';\nexport const b = bearer;\n",
  'src/relay/stray.ts': "import { s } from '../stray/s.ts';\nexport const stray = s;\n",
  'src/stray/s.ts': "import { log } from '../obs/log.ts';\nexport const s = log;\n",
  // a cycle between two sub-folders of one folder
  'src/link/core/outbox.ts': "import { link } from '../constrained/link.ts';\nexport const outbox = link;\n",
};

const EXPECTED_BAD = [
  'src-not-bench-or-test: src/cli/commands.ts → bench/run.ts',
  'src-not-bench-or-test: src/spool/check.ts → test/helpers/h.ts',
  'imports-point-down: src/xml/stream-error.ts → src/xmpp/jid.ts',
  'no-folder-cycles: src/xml → src/xmpp',
  'no-folder-cycles: src/xmpp → src/xml',
  'middle-row-apart: src/link/schedule.ts → src/optimize/queue.ts',
  'relay-not-emulator: src/relay/bearer.ts → src/emulator/engine.ts',
  'folder-has-a-row: src/relay/stray.ts → src/stray/s.ts',
  'folder-has-a-row: src/stray/s.ts → src/obs/log.ts',
  'no-folder-cycles: src/link/core → src/link/constrained',
  'no-folder-cycles: src/link/constrained → src/link/core',
].sort();

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-layers-'));
  cpSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

test('the rules pass a tree that keeps them', async (t) => {
  const dir = fixture(CLEAN);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await cruise(dir);
  t.deepEqual(r.unresolved, []);
  t.is(r.modules.length, Object.keys(CLEAN).filter((p) => p.startsWith('src/')).length);
  t.deepEqual(r.violations, []);
});

test('each rule catches its deliberately bad import, and nothing else is reported', async (t) => {
  const dir = fixture({ ...CLEAN, ...BAD });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await cruise(dir);
  t.deepEqual(r.unresolved, []);
  t.deepEqual(r.violations, EXPECTED_BAD);
});

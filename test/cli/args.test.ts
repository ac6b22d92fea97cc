/**
 * The command line's contract with an operator: `--version`; every
 * subcommand's --help lists its options one per line and exits 0; an
 * unknown option is an error naming it; `check FILE` is `check -c FILE`;
 * keygen -o writes a 0600 key file. These run main() in this process
 * (helpers/cli-inproc.ts); one test starts the installed command itself.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { commands } from '../../src/cli/main.ts';
import { commandHelp, parseCommand, UsageError, type CommandSpec } from '../../src/cli/args.ts';
import { parseKeyText } from '../../src/config/index.ts';
import { satrelay as cli } from '../helpers/cli-inproc.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** bin/satrelay.js as a child process. */
function spawnCli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/satrelay.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

const names = Object.keys(commands);

test('the installed command: --version prints the package version (exit 0); a usage error exits 2, as main() returns', async (t) => {
  const [r, bad] = await Promise.all([spawnCli(['--version']), spawnCli(['check', '--frobnicate'])]);
  t.is(r.status, 0);
  t.is(r.stdout, `satrelay ${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`);
  t.deepEqual(await cli(['--version']), { status: 0, stdout: r.stdout, stderr: '' }, 'in process: the same');
  t.is(bad.status, 2);
  t.deepEqual(await cli(['check', '--frobnicate']), { status: 2, stdout: bad.stdout, stderr: bad.stderr }, 'in process: the same');
});

test('satrelay --help lists every command, and each one\'s --help exits 0 with one line per option', async (t) => {
  const top = await cli(['--help']);
  t.is(top.status, 0);
  for (const name of names) t.regex(top.stdout, new RegExp(`^  satrelay ${name}\\b`, 'm'), name);
  const helps = await Promise.all(names.map((n) => cli([n, '--help'])));
  helps.forEach((r, i) => {
    const name = names[i];
    t.is(r.status, 0, `${name} --help: ${r.stderr}`);
    t.regex(r.stdout, new RegExp(`^usage: satrelay ${name}\\b`), name);
    const opts = r.stdout.split('options:\n')[1]?.split('\n\n')[0].split('\n').filter(Boolean) ?? [];
    t.true(opts.length >= 2, `${name} lists its options`);
    for (const line of opts) t.regex(line, /^ {2}(?:-\w, | {4})--[a-z][a-z-]*(?: \S+)? {2,}\S.*$/, `${name}: "${line}" is one option with its description`);
    t.true(opts.some((l) => /--help/.test(l)), `${name}: --help`);
  });
});

test('an unknown option is an error that names it, for every command (exit 2)', async (t) => {
  const rs = await Promise.all(names.map((n) => cli([n, '--frobnicate'])));
  rs.forEach((r, i) => {
    t.is(r.status, 2, `${names[i]}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`^satrelay ${names[i]}: unknown option --frobnicate$`, 'm'), names[i]);
  });
});

test('check FILE works as check -c FILE; run, check and status say which file is missing', async (t) => {
  const [a, b, none, both] = await Promise.all([cli(['check', 'examples/ship.yaml']), cli(['check', '-c', 'examples/ship.yaml']), cli(['check']), cli(['check', '-c', 'examples/ship.yaml', 'examples/shore.yaml'])]);
  t.is(a.status, 0, a.stderr);
  t.is(a.stdout, b.stdout);
  t.regex(a.stdout, /site: "ship-1"/);
  t.is(none.status, 2);
  t.regex(none.stderr, /satrelay check: which site file\? give -c FILE \(or FILE\)/);
  t.is(both.status, 2);
  t.regex(both.stderr, /give the site file once/);
});

test('checking the examples prints a note about their published key, not a warning', async (t) => {
  const r = await cli(['check', 'examples/shore.yaml']);
  t.is(r.status, 0);
  t.notRegex(r.stderr, /warning/);
  t.regex(r.stderr, /^note: .*examples\/keys\/demo\.key: an example key published with satrelay/m);
});

test('keygen -o FILE writes the key with mode 600 and says so; it does not overwrite without --force', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-keygen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'shore.key');
  const r = await cli(['keygen', '-o', file]);
  t.is(r.status, 0, r.stderr);
  t.is(statSync(file).mode & 0o777, 0o600);
  const { id } = parseKeyText(readFileSync(file, 'utf8'));
  t.is(r.stderr, `wrote ${file} (mode 600), key id ${id}; copy the same file to the other end of the link\n`);
  t.is(r.stdout, '', 'the key is not printed');
  const again = await cli(['keygen', '-o', file]);
  t.is(again.status, 1);
  t.regex(again.stderr, /exists; not replaced \(give --force to replace it\)/);
  t.is(parseKeyText(readFileSync(file, 'utf8')).id, id, 'the old key is kept');
  chmodSync(file, 0o644);
  const forced = await cli(['keygen', '-o', file, '--force']);
  t.is(forced.status, 0);
  t.is(statSync(file).mode & 0o777, 0o600, 'a replaced file is made 600 too');
  t.not(parseKeyText(readFileSync(file, 'utf8')).id, id);
});

test('the parser: values, a lone positional, missing values and stray arguments named', (t) => {
  const spec: CommandSpec = { name: 'x', summary: 's', usage: '', options: { config: { type: 'string', short: 'c', help: 'file' }, json: { type: 'boolean', help: 'j' } }, positionals: { max: 1 } };
  t.deepEqual(parseCommand(spec, ['-c', 'a.yaml', '--json']).values, { config: 'a.yaml', json: true });
  t.deepEqual(parseCommand(spec, ['a.yaml']).positionals, ['a.yaml']);
  t.is(t.throws(() => parseCommand(spec, ['--config']), { instanceOf: UsageError })?.message, 'option --config needs a value');
  t.is(t.throws(() => parseCommand(spec, ['--json=1']), { instanceOf: UsageError })?.message, 'option --json takes no value');
  t.is(t.throws(() => parseCommand(spec, ['a', 'b']), { instanceOf: UsageError })?.message, 'unexpected argument "b" (at most 1)');
  t.is(t.throws(() => parseCommand(spec, ['-z']), { instanceOf: UsageError })?.message, 'unknown option -z');
  t.regex(commandHelp(spec), /^ {2}-c, --config VALUE {2,}file$/m);
  t.regex(commandHelp(spec), /^ {6}--json {2,}j$/m);
});

test('a key file others can read still warns at check; a group-readable one does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-keymode-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await cli(['keygen', '-o', join(dir, 'k.key')]);
  const site = join(dir, 'site.yaml');
  writeFileSync(site, 'site: s\nlocal: { domains: [a.example] }\nlinks:\n  - { name: l, domains: [b.example], profile: lan, transport: udp, bind: "127.0.0.1:0", peer: "127.0.0.1:9", key_file: k.key }\n');
  chmodSync(join(dir, 'k.key'), 0o640);
  const group = await cli(['check', site]);
  t.is(group.status, 0, group.stderr);
  t.is(group.stderr, '');
  chmodSync(join(dir, 'k.key'), 0o644);
  const open = await cli(['check', site]);
  t.regex(open.stderr, /^warning: .*k\.key: key file is open to everyone \(mode 644\); run chmod 600 on it$/m);
});

test('README and the operator guide document every command, and how to pick the demo\'s profile', (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const guide = readFileSync(join(ROOT, 'docs/operator-guide.md'), 'utf8');
  for (const name of names) {
    t.regex(readme, new RegExp(`satrelay ${name}\\b`), `README: satrelay ${name}`);
    t.regex(guide, new RegExp(`satrelay ${name}\\b`), `guide: satrelay ${name}`);
  }
  t.regex(readme, /npm start -- --profile hf-1200/);
});

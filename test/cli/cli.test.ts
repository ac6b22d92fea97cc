/**
 * The satrelay command line as an operator uses it: real files; `run` and
 * `status` as real processes, the rest through main() in this process
 * (helpers/cli-inproc.ts; args.test.ts checks the installed command gives
 * the same).
 */
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { parseKeyText } from '../../src/config/index.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { satrelay as cli } from '../helpers/cli-inproc.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function tempDir(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('keygen prints a key file both ends can read', async (t) => {
  const r = await cli(['keygen']);
  t.is(r.status, 0);
  const { key, id } = parseKeyText(r.stdout);
  t.is(key.length, 32);
  t.regex(id, /^[0-9a-f]{16}$/);
  t.not((await cli(['keygen'])).stdout, r.stdout, 'a new key each time');
});

test('check prints the effective config of the example site with defaults filled in', async (t) => {
  const r = await cli(['check', '-c', join(ROOT, 'examples/shore.yaml')]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /max_stanza_bytes: 262144/);
  t.regex(r.stdout, /held_stanza_timeout_s: 600/);
  t.regex(r.stdout, /transport: "udp"/);
});

test('check names file, line, key and expectation for a bad site file, and exits non-zero', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'site: ship\nlocal:\n  domains: [a.example]\nlinks:\n  - name: shore\n    domains: [b.example]\n    profile: lan\n    transport: udpp\n');
  const r = await cli(['check', '-c', file]);
  t.is(r.status, 1);
  t.regex(r.stderr, /bad\.yaml:8:\d+: links\[0\]\.transport: .*udp.*xep0361/);
});

test('unknown commands and missing -c give usage and exit 2', async (t) => {
  t.is((await cli(['frobnicate'])).status, 2);
  t.is((await cli(['run'])).status, 2);
});

test('run writes the effective config, status reads the running relay, SIGTERM stops it cleanly', async (t) => {
  const dir = tempDir(t);
  const [s2s, metrics, peer] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const file = join(dir, 'site.yaml');
  writeFileSync(file, `site: ship-7
data_dir: ${join(dir, 'data')}
local:
  domains: [a.example]
  listen: ["127.0.0.1:${s2s}"]
links:
  - name: shore
    domains: [b.example]
    profile: lan
    transport: xep0361
    peer: "127.0.0.1:${peer}"
metrics: { listen: "127.0.0.1:${metrics}" }
`);
  const child = spawn(process.execPath, [join(ROOT, 'bin/satrelay.js'), 'run', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SATRELAY_LOG_JSON: '1' } });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const end = Date.now() + 30_000;
  let status = await cli(['status', '-c', file]);
  while (status.status !== 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 200));
    status = await cli(['status', '-c', file]);
  }
  t.is(status.status, 0, status.stderr);
  t.regex(status.stdout, /site ship-7/);
  t.regex(status.stdout, /shore\s+xep0361\s+DOWN/, 'partner not there: link down');
  t.regex(status.stdout, new RegExp(`in a browser, with charts of the last hour: http://127\\.0\\.0\\.1:${metrics}/\n$`));
  const page = await (await fetch(`http://127.0.0.1:${metrics}/`)).text();
  t.regex(page, /link <span class="name">shore<\/span> <span class="state down">DOWN<\/span>/, 'the status page of the running relay');
  const json = await cli(['status', file, '--json']);
  t.is(JSON.parse(json.stdout).site, 'ship-7', 'status FILE --json');
  t.true(existsSync(join(dir, 'data', 'effective-config.yaml')));
  t.regex(readFileSync(join(dir, 'data', 'effective-config.yaml'), 'utf8'), /site: "ship-7"/);
  const metricsText = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
  t.regex(metricsText, /satrelay_/);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  t.is(code, 0);
  t.true(out.split('\n').filter(Boolean).every((l) => { try { JSON.parse(l); return true; } catch { return false; } }), 'logs are one JSON object per line');
  t.regex(out, /"msg":"relay stopped"/);
  // Start and stop read as what happened; the site is named once per line, as `site`.
  const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(lines.some((l) => l.msg === `relay started: S2S on 127.0.0.1:${s2s}; links shore`), out);
  t.true(lines.some((l) => l.msg === 'relay stopping: SIGTERM' && l.reason === 'SIGTERM'), out);
  for (const l of lines) {
    t.is(l.site, 'ship-7', `site on: ${l.msg}`);
    t.false('name' in l, `no second name for the site on: ${l.msg}`);
  }
});

test('run exits non-zero with a clear message when the S2S port is taken, instead of running half-started', async (t) => {
  const dir = tempDir(t);
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const file = join(dir, 'site.yaml');
  writeFileSync(file, `site: ship-8
data_dir: ${join(dir, 'data')}
local:
  domains: [a.example]
  listen: ["127.0.0.1:${port}"]
links:
  - { name: shore, domains: [b.example], profile: lan, transport: xep0361, bind: "127.0.0.1:0" }
metrics: { listen: null }
`);
  // a real process: a relay that half-started must not outlive the command
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/satrelay.js'), 'run', '-c', file], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 1);
  t.regex(r.stderr, /cannot start site ship-8 .*site\.yaml.*EADDRINUSE/);
});

/**
 * `satrelay demo` without a terminal: one status line a second, a summary at
 * the end (--duration), relay logs kept out of stdout.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('satrelay demo --duration runs the relay pair, prints a line a second and a summary', async (t) => {
  t.timeout(40_000);
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--profile', 'lan', '--duration', '4', '--rate', '20'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill());
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  t.is(code, 0, err);
  const ticks = out.split('\n').filter((l) => /^\d\d:\d\d ab \d+\/\d+ ba \d+\/\d+ bearer \d+ B/.test(l));
  t.true(ticks.length >= 2, out);
  t.notRegex(out, /"level":/, 'no relay log lines on stdout');
  const sent = /a\.example -> b\.example {2}sent (\d+) {2}delivered (\d+)/.exec(out);
  t.truthy(sent, out);
  t.true(Number(sent![1]) >= 40, 'about 20 stanzas a second for 4 s offered');
  t.true(Number(sent![2]) > 0, 'stanzas crossed the relay pair');
  t.regex(out, /errors {8}bounced 0, duplicates 0/);
  const dir = /relay logs and data: (\S+)/.exec(out)![1];
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.true(existsSync(join(dir, 'relays.log')));
  t.regex(readFileSync(join(dir, 'relays.log'), 'utf8'), /relay started/);
});

/**
 * `satrelay demo` without a terminal: one status line a second, a summary at
 * the end (--duration), relay logs kept out of stdout.
 */
import test from 'ava';
import { runSatrelay } from '../helpers/cli.ts';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';


test('satrelay demo --duration runs the relay pair, prints a line a second and a summary', async (t) => {
  t.timeout(40_000);
  const { code, out, err } = await runSatrelay(['demo', '--profile', 'lan', '--duration', '4', '--rate', '20'], t);
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

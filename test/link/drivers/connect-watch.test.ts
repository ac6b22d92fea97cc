/**
 * ConnectWatch: a dialling link that cannot connect warns at the first failed
 * attempt, then at most once a minute with the count since (simulated clock),
 * says when it connects again, and gives status its error and since when.
 */
import test from 'ava';
import { pino } from 'pino';
import { ConnectWatch, failureFields } from '../../../src/link/drivers/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';

function memoryLog() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  return { lines, log: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) }) };
}

test('first failure warns at once, then one warning a minute with the attempts since; a connect resets it', (t) => {
  let now = 1_800_000_000_000;
  const { lines, log } = memoryLog();
  const metrics = new Metrics();
  const w = new ConnectWatch({ target: '198.18.0.2:5299', log, metrics, labels: { link: 'shore' }, now: () => now });
  w.failed('connect ECONNREFUSED 198.18.0.2:5299');
  t.is(lines.length, 1);
  t.like(lines[0], { level: 40, link: 'shore', peer: '198.18.0.2:5299', attempts: 1, failingForS: 0 });
  t.regex(lines[0].msg, /^link cannot connect to its partner: is the partner relay running and listening there\? Of the two ends of a tcp or xep0361 link exactly one sets peer/);
  for (let i = 0; i < 20; i++) {
    now += 2_900; // a redial every 2.9 s for 58 s: no more lines
    w.failed('connect ECONNREFUSED 198.18.0.2:5299');
  }
  t.is(lines.length, 1, 'rate-limited');
  now += 2_000; // 60 s after the first warning
  w.failed('connect ETIMEDOUT 198.18.0.2:5299');
  t.is(lines.length, 2);
  t.like(lines[1], { level: 40, attempts: 21, failingForS: 60, err: 'connect ETIMEDOUT 198.18.0.2:5299' });
  t.is(metrics.get('link_connect_failures_total', { link: 'shore' }), 22);

  t.deepEqual(failureFields(undefined, w.state, now + 5_000), {
    lastError: 'cannot connect to 198.18.0.2:5299: connect ETIMEDOUT 198.18.0.2:5299',
    failingSince: new Date(1_800_000_000_000).toISOString(),
    failingForS: 65,
    connectFailures: 22,
  });

  now += 1_000;
  w.connected();
  t.like(lines[2], { level: 30, msg: 'link connected to its partner after failed attempts', attempts: 22, failedForS: 61 });
  t.is(w.state, undefined);
  t.deepEqual(failureFields('partner sent bad XML', w.state), { lastError: 'partner sent bad XML' });
  // A new outage warns again at its first failure.
  w.failed('connect ECONNREFUSED 198.18.0.2:5299');
  t.is(lines.length, 4);
  t.like(lines[3], { attempts: 1, failingForS: 0 });
});

test('a connect without a failure before says nothing', (t) => {
  const { lines, log } = memoryLog();
  const w = new ConnectWatch({ target: 'x:1', log, metrics: new Metrics(), labels: { link: 'l' } });
  w.connected();
  t.is(lines.length, 0);
  t.is(w.state, undefined);
});

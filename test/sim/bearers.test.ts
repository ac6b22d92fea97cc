/**
 * `satrelay bench --bearers P1,P2 --outage-bearer INDEX:START_S:DURATION_S`:
 * what the arguments accept and refuse (the run itself is measured in
 * README / operator guide §5 with the command that produced each figure).
 */
import test from 'ava';
import { parseBearersArg, parseOutageBearerArg } from '../../src/sim/bearers.ts';
import { satrelay } from '../helpers/cli-inproc.ts';

test('--bearers: two or more profiles, primary first', (t) => {
  t.deepEqual(parseBearersArg('starlink-maritime,iridium-2400'), ['starlink-maritime', 'iridium-2400']);
  t.throws(() => parseBearersArg('starlink-maritime'), { message: /expected two or more profiles, primary first/ });
});

test('--outage-bearer: INDEX from 1 to the bearers given, a start and a duration', (t) => {
  t.deepEqual(parseOutageBearerArg('1:0.05:40', 2), { index: 1, startS: 0.05, durationS: 40 });
  t.deepEqual(parseOutageBearerArg('2:3:1.5', 2), { index: 2, startS: 3, durationS: 1.5 });
  for (const bad of ['0:1:10', '3:1:10', '1:1:0', '1:10', 'x:1:2']) t.throws(() => parseOutageBearerArg(bad, 2), { message: /INDEX:START_S:DURATION_S/ }, bad);
});

test('satrelay bench --bearers: a bad argument is a usage error naming what was expected, before anything starts', async (t) => {
  const r = await satrelay(['bench', '--bearers', 'starlink-maritime,iridium-2400', '--outage-bearer', '3:1:10']);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /--outage-bearer: expected INDEX:START_S:DURATION_S with INDEX 1 \(the primary\) to 2/);
  const both = await satrelay(['bench', '--bearers', 'starlink-maritime,iridium-2400', '--profile', 'bgan-64k']);
  t.is(both.status, 2, both.stderr);
  t.regex(both.stderr, /--profile and --bearers do not go together/);
});

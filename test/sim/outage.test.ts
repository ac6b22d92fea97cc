/**
 * `satrelay bench --outage START_S:DURATION_S` over real sockets: the bearer is
 * cut both ways during the burst, for the relay pair and plain S2S alike;
 * the figures gain resume_ms, outage_probe_bytes and outage_bytes. Checked
 * for shape and delivery, never as timings.
 */
import test from 'ava';
import { runBench, parseOutageArg } from '../../src/sim/index.ts';
import { runSatrelay } from '../helpers/cli.ts';

test('a bench run with an outage delivers everything once and reports when sending resumed', async (t) => {
  const r = await runBench({ profile: 'lan', workload: 'chat', stanzas: 300, seed: 3, baseline: 'builtin', outage: { startS: 0, durationS: 2 } });
  for (const [what, f] of [['relay', r], ['baseline', r.baseline!]] as const) {
    t.is(f.lost, 0, `${what}: lost`);
    t.is(f.duplicated, 0, `${what}: duplicated`);
    t.is(f.delivered, 300, `${what}: delivered`);
    t.is(f.outage?.duration_ms, 2000, `${what}: the outage`);
    t.true(f.outage!.start_ms >= 0, `${what}: cut when the burst started`);
    t.is(typeof f.resume_ms, 'number', `${what}: something crossed after the bearer returned`);
    t.true(f.resume_ms! >= 0);
    t.true(f.outage_bytes! >= 0);
  }
  // The relay's links probed while dark (plain S2S has no such counter).
  t.true(r.outage_probe_bytes! > 0, `relay probe bytes ${r.outage_probe_bytes}`);
  t.true(r.outage_probe_bytes! <= r.outage_bytes!, 'probes are part of what was offered while dark');
  t.is(r.baseline!.outage_probe_bytes, 0);
  t.true(r.notes.some((n) => n.startsWith('outage: the bearer is cut both ways 0 s after the burst starts, for 2 s')));
});

test('--outage takes START_S:DURATION_S and refuses anything else', async (t) => {
  t.deepEqual(parseOutageArg('4:60'), { startS: 4, durationS: 60 });
  t.deepEqual(parseOutageArg('0.5:2.5'), { startS: 0.5, durationS: 2.5 });
  for (const bad of ['4', '4:0', '-1:5', '4:60:1', 'a:b']) t.throws(() => parseOutageArg(bad), { message: /expected START_S:DURATION_S/ }, bad);
  const { code, err } = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--outage', '60'], t);
  t.is(code, 2);
  t.regex(err, /--outage: expected START_S:DURATION_S/);
});

/**
 * Resuming after an outage (src/link/core/outage.ts), per shipped profile, in
 * simulated time over the bearer emulator's engine with the profile's bearer.
 * Target: the first stanza after the bearer returns is delivered within
 * 3 RTT + 1 s of its return (RTT: the profile's, worst jitter and turnarounds
 * included); the bytes spent probing stay within the bound `satrelay check`
 * states (probeBytesPerHour); nothing lost, nothing twice.
 */
import test, { type ExecutionContext } from 'ava';
import { listProfiles, probeBytesPerHour, resumeBoundMs } from '../../../src/config/index.ts';
import { EmuPair } from './emu-pair.ts';
import { Pair, rng, seededBytes } from './pair.ts';
import { chatCorpus } from './corpus.ts';

/**
 * Chat from a (about `seconds` of the bearer) and replies from b: long ones
 * (b is still sending when the outage comes, a fifth into a's burst) or a few
 * short ones (b only acknowledges by then).
 */
function loadBurst(p: EmuPair, seconds: number, bothWays: boolean): { a: number; b: number } {
  // Above 1 Mbit/s (starlink-maritime) chat stanzas fit in the window at once: 400 carry their own
  // random bytes, four windows in all, so stanzas are still waiting when the outage comes.
  const fast = p.profile.bearer.rate_bps > 1_000_000;
  const n = fast ? 400 : Math.max(120, Math.min(2000, Math.round((p.profile.bearer.rate_bps / 8) * seconds / 60)));
  const t = p.profile.tuning;
  const padBytes = fast ? Math.ceil((4 * t.window_frames * t.frame_bytes) / n) : 0;
  const random = seededBytes(rng(p.seed));
  for (const s of chatCorpus(n, p.seed)) {
    const st = padBytes ? Buffer.from(s.toString().replace('</body>', ` ${random(padBytes).toString('base64')}</body>`)) : s;
    p.a.submit(st, s.subarray(0, 9).toString() === '<presence' ? 'low' : 'high');
  }
  const replies = Math.ceil(bothWays ? n / 2 : n / 8);
  const body = (i: number) => (bothWays ? `reply ${i}: ${chatCorpus(1, p.seed * 1000 + i)[0].toString('base64').slice(0, 200)}` : `reply ${i}`);
  for (let i = 0; i < replies; i++) p.b.submit(`<message type="chat" from="bob@b.example/x" to="alice@a.example" id="r${i}"><body>${body(i)}</body></message>`);
  return { a: n, b: replies };
}

interface OutageRun { resumeMs: number; bytes: { a: number; b: number } }

/**
 * An outage of `durationMs` both ways once a fifth of a's burst has arrived;
 * returns how long after the bearer's return the next stanza arrived and
 * what each end offered to the bearer meanwhile (undefined: nothing was left
 * to deliver after it). Checks exactly-once delivery of everything.
 */
function outageMidBurst(t: ExecutionContext, p: EmuPair, durationMs: number, bothWays = true): OutageRun | undefined {
  const what = `${p.profile.name} seed ${p.seed}`;
  const sent = loadBurst(p, 10, bothWays);
  t.true(p.driveUntil(() => p.b.received.length >= sent.a / 5), `${what}: the burst did not start`);
  const end = p.now + durationMs;
  p.outage(p.now, durationMs);
  const before = { a: p.emu.stats.ab.bytes_sent, b: p.emu.stats.ba.bytes_sent };
  p.driveUntil(() => p.now >= end, durationMs + 1);
  const bytes = { a: p.emu.stats.ab.bytes_sent - before.a, b: p.emu.stats.ba.bytes_sent - before.b };
  const seen = p.a.received.length + p.b.received.length;
  const left = p.b.received.length < sent.a || p.a.received.length < sent.b;
  p.driveUntil(() => p.a.received.length + p.b.received.length > seen, 3600_000);
  const resumeMs = p.now - end;
  t.true(p.driveUntil(() => p.idle(), 6 * 3600_000), `${what}: not drained`);
  t.deepEqual([...p.a.duplicates, ...p.b.duplicates], [], `${what}: duplicates`);
  t.is(new Set(p.b.received.map((r) => r.id)).size, sent.a, `${what}: a's stanzas at b`);
  t.is(new Set(p.a.received.map((r) => r.id)).size, sent.b, `${what}: b's stanzas at a`);
  t.is(p.b.received.length + p.a.received.length, sent.a + sent.b, `${what}: a stanza delivered twice`);
  return left ? { resumeMs, bytes } : undefined;
}

for (const name of listProfiles()) {
  test(`${name}: the first stanza after an outage mid-burst arrives within 3 RTT + 1 s of the bearer's return`, (t) => {
    const ref = new EmuPair({ profile: name, seed: 1 });
    const probe = ref.tuning.probeIntervalMs!;
    const target = 3 * ref.rttMs + 1000;
    const resumes: number[] = [];
    // The return falls at every eighth of the probe cadence; outages of 30 s to 90 s; b sending too, or only a.
    for (let k = 0; k < 8; k++) {
      const p = new EmuPair({ profile: name, seed: 300 + k, loss: false });
      const run = outageMidBurst(t, p, 30_000 + (k % 4) * 20_000 + (k * probe) / 8, k % 2 === 0);
      if (!run) continue;
      resumes.push(Math.round(run.resumeMs));
      t.true(run.resumeMs <= target, `${name} seed ${p.seed}: resumed ${Math.round(run.resumeMs)} ms after the bearer returned (target ${target})`);
      t.true(run.resumeMs <= resumeBoundMs(p.profile.bearer, p.profile.tuning), `${name}: over the bound check states`);
    }
    t.true(resumes.length >= 6, `${name}: too few runs had stanzas left after the outage (${resumes.length})`);
    t.log(`${name}: probe every ${probe} ms; resume ${Math.min(...resumes)}-${Math.max(...resumes)} ms (target ${target} ms)`);
  });
}

for (const name of listProfiles()) {
  test(`${name}: an hour of outage costs each end at most the stated probe bytes per hour`, (t) => {
    const p = new EmuPair({ profile: name, seed: 7, loss: false });
    const run = outageMidBurst(t, p, 3_600_000);
    if (!run) return t.fail('no stanzas were left for after the outage');
    const bound = probeBytesPerHour(p.profile.tuning);
    // Before its first timeout an end may still send what its window had released.
    const window = p.profile.tuning.window_frames * p.profile.tuning.frame_bytes;
    for (const side of ['a', 'b'] as const) {
      const st = p[side].ep.stats();
      t.true(run.bytes[side] <= bound + window + 2 * p.profile.tuning.frame_bytes,
        `${name} ${side}: ${run.bytes[side]} B offered in an hour's outage (probe bound ${bound} B/h, window ${window} B)`);
      t.true(st.outageProbes > 0, `${name} ${side}: probed`);
      t.true(st.outages >= 1, `${name} ${side}: an outage counted`);
      t.is(p[side].metrics.get('link_probes_total'), st.outageProbes);
    }
    t.log(`${name}: a ${run.bytes.a} B, b ${run.bytes.b} B in the hour (bound ${bound} B/h per end + window ${window} B); resume ${Math.round(run.resumeMs)} ms`);
  });
}

test("with the profiles' own loss the link still resumes and delivers everything exactly once", (t) => {
  for (const name of ['hf-1200', 'iridium-2400', 'lossy-test', 'vsat-1m']) {
    const resumes: number[] = [];
    for (const seed of [41, 42, 43]) {
      const run = outageMidBurst(t, new EmuPair({ profile: name, seed }), 60_000);
      if (run) resumes.push(Math.round(run.resumeMs));
    }
    t.log(`${name} with loss: resume ${resumes.join(', ')} ms`);
  }
});

test('frames the partner got before the outage, whose ACKs were lost in it, are not sent again', (t) => {
  // a -> b stays up; b -> a (b's ACKs) is dark for 30 s right after a's burst.
  const ba: Array<[number, number]> = [[350, 30_350]];
  const p = new Pair({ seed: 401, tuning: { rateBps: 64_000 }, ab: { latencyMs: 300, rateBps: 64_000 }, ba: { latencyMs: 300, rateBps: 64_000, outages: ba } });
  const bytes = seededBytes(rng(401)); // incompressible: one frame per stanza
  for (let i = 0; i < 12; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>${bytes(330).toString('base64')}</body></message>`);
  t.true(p.driveUntil(() => p.b.received.length === 12, 5_000), 'all of the burst arrived before the ACKs were lost');
  const framesOfBurst = p.a.ep.stats().framesSent;
  t.true(framesOfBurst >= 10, `${framesOfBurst} frames`);
  t.true(p.driveUntil(() => p.idle(), 120_000));
  t.deepEqual(p.b.duplicates, []);
  // Only the timeout's one resend: the ACK after the outage shows b had the rest.
  t.true(p.a.ep.stats().retransmits <= 1, `${p.a.ep.stats().retransmits} frames resent of a burst of ${framesOfBurst} frames b already had`);
});

test("a driver's hint that the bearer is back sends a probe at once", (t) => {
  const outage: Array<[number, number]> = [[1_000, 61_000]];
  const base = { latencyMs: 300, rateBps: 64_000 };
  const p = new Pair({ seed: 402, tuning: { probeIntervalMs: 20_000 }, ab: { ...base, outages: outage }, ba: { ...base, outages: outage } });
  p.driveUntil(() => p.now >= 900);
  for (let i = 0; i < 5; i++) p.a.submit(`<message from="alice@a.example/x" to="bob@b.example"><body>a ${i}</body></message>`);
  p.driveUntil(() => p.now >= 61_000);
  t.is(p.b.received.length, 0);
  const hintAt = p.now;
  const scheduled = p.a.ep.pollTimeout()!;
  t.true(scheduled - hintAt > 5_000, `the next probe was due ${scheduled - hintAt} ms later anyway`);
  const probes = p.a.ep.stats().outageProbes;
  p.a.ep.bearerUp(hintAt);
  t.is(p.a.ep.pollTimeout(), hintAt);
  t.truthy(p.a.ep.pollTransmit(hintAt), 'a probe at once');
  t.is(p.a.ep.stats().outageProbes, probes + 1);
  t.true(p.driveUntil(() => p.b.received.length === 5, 60_000));
  // the probe, its ACK, the data: 1.5 RTT and the frame times
  t.true(p.now - hintAt <= 3 * 300 + 100, `delivered ${p.now - hintAt} ms after the hint`);
});

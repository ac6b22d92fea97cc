// Loss recovery on its own (recovery.ts): the RTO (RFC 6298), loss by packet threshold (RFC 9002 §6.1.1),
// the window and the back-off reset when the partner is heard again, in simulated time.
import test from 'ava';
import { Recovery, type TrackedFrame } from '../../../src/link/core/recovery.ts';
import { settings, type LinkTuning } from '../../../src/link/core/options.ts';
import { newCounters } from '../../../src/link/core/stats.ts';
import { silentCoreLogger } from '../../../src/link/core/log.ts';

const TUNING: LinkTuning = { mtu: 508, rttEstimateMs: 500, rtoMinMs: 300, rtoMaxMs: 60_000, ackDelayMs: 50, keepaliveS: 30, compressionLevel: 6 };

function setup(over: Partial<LinkTuning> = {}) {
  const tuning = { ...TUNING, ...over };
  const acked: number[] = [];
  const lost: number[] = [];
  const c = newCounters();
  const r = new Recovery<TrackedFrame>(settings(tuning), tuning, { acked: (f) => acked.push(f.seq), lost: (_now, f) => lost.push(f.seq) }, c, silentCoreLogger);
  const send = (now: number): TrackedFrame => {
    const f = { seq: r.takeSeq(), builtAt: now, time: now, ackEliciting: true };
    r.onSent(now, f, 100, false);
    return f;
  };
  return { r, acked, lost, c, send };
}

test('the RTO starts from the configured estimate, follows the RTT samples and backs off on expiry', (t) => {
  const { r, acked, lost, send } = setup();
  t.is(r.rtoAt(), undefined, 'nothing in flight: no timer');
  send(0);
  t.is(r.rtoAt(), 1000, 'initial RTO: twice rttEstimateMs');
  r.onAck(200, [[0, 0]], 0);
  t.deepEqual(acked, [0]);
  t.is(r.rttMs, 200);
  t.is(r.rtoAt(), undefined);
  // SRTT 200, RTTVAR 100: 200 + 4 x 100 + ackDelayMs 50
  t.is(r.rtoMs(), 650);
  send(1000);
  t.is(r.rtoAt(), 1650);
  r.onRto(1650, 200);
  t.deepEqual(lost, [1], 'what was in flight is lost');
  t.is(r.framesInFlight, 0);
  t.is(r.rtoMs(), 1300, 'backed off (RFC 6298 §5.5)');
  t.true(r.windowOpen(), 'one frame may go after the timeout');
  send(1650);
  t.false(r.windowOpen(), 'and only one until an ACK');
  r.onAck(1900, [[2, 2]], 0);
  t.true(r.windowOpen());
  // A new sample ends the back-off: SRTT 206.25, RTTVAR 87.5.
  t.is(r.rtoMs(), 206.25 + 350 + 50);
});

test('frames three below the largest acknowledged are lost, the others stay in flight', (t) => {
  const { r, acked, lost, send } = setup();
  for (let i = 0; i < 5; i++) send(i);
  r.onAck(300, [[4, 4]], 0);
  t.deepEqual(acked, [4]);
  t.deepEqual(lost, [0, 1]);
  t.is(r.framesInFlight, 2);
  r.onAck(310, [[3, 3]], 0);
  t.deepEqual(lost, [0, 1], 'frame 2 is within the threshold of 3');
  r.onAck(320, [[5, 5]], 0);
  t.deepEqual(acked, [4, 3]);
});

test('the window closes at windowFrames in flight and opens with an ACK', (t) => {
  const { r, send } = setup({ windowFrames: 4 });
  for (let i = 0; i < 4; i++) { t.true(r.windowOpen()); send(i); }
  t.false(r.windowOpen());
  r.onAck(100, [[0, 0]], 0);
  t.true(r.windowOpen());
});

test('without a configured window it is 2 x the bandwidth-delay product, from the RTT once measured', (t) => {
  const { r, send } = setup({ rateBps: 64_000, rttEstimateMs: 600 });
  t.is(r.window(), Math.ceil((2 * 8000 * 0.6) / 508));
  send(0);
  r.onAck(1000, [[0, 0]], 0);
  t.is(r.window(), Math.ceil((2 * 8000 * 1) / 508));
});

test('hearing the partner after a silence while backed off returns to the base RTO, counted', (t) => {
  const { r, c, send } = setup();
  send(0);
  r.onRto(1000, 0);
  t.is(r.rtoMs(), 2000);
  send(1000);
  r.onHeard(1500, 600);
  t.is(c.backoffResets, 0, 'a silence shorter than the base RTO is not an outage');
  t.is(r.rtoMs(), 2000);
  r.onHeard(5000, 1500);
  t.is(c.backoffResets, 1);
  t.is(r.rtoMs(), 1000);
});

test('after the partner restarts, everything in flight is lost and the full window opens', (t) => {
  const { r, lost, send } = setup({ windowFrames: 2 });
  send(0);
  send(1);
  t.false(r.windowOpen());
  r.loseAll(10);
  t.deepEqual(lost, [0, 1]);
  t.true(r.windowOpen());
  t.is(r.rtoAt(), undefined);
});

/**
 * Tuning keys of the link core in simulated time: coalesceDelayMs (a partly
 * filled frame waits a bounded time for more messages) and linkDownAfterS
 * (how long without a frame from the partner before the link is down).
 */
import test from 'ava';
import { Pair, type BearerModel, type PairOptions } from './pair.ts';

const base: BearerModel = { latencyMs: 300, rateBps: 64_000 };
const chat = (i: number): string =>
  `<message type="chat" from="alice@a.example/x" to="bob@b.example" id="m${i}"><body>note ${i}: course 270, speed ${10 + (i % 7)} kn</body></message>`;

/** A pair whose link is up and quiet (the epoch PINGs and their ACKs are done). */
function quietPair(o: Omit<PairOptions, 'seed'> & { seed?: number }): Pair {
  const p = new Pair({ seed: 7, ab: base, ...o });
  p.driveUntil(() => p.a.events.some((e) => e.type === 'up') && p.b.events.some((e) => e.type === 'up'));
  p.drive(5_000);
  return p;
}

/** Submits on side a at the given offsets (ms from now), then drives until all arrived; returns arrival times and a's frames. */
function sendSpread(p: Pair, offsets: number[]): { t0: number; arrivals: number[]; framesA: number; bytesAB: number } {
  const t0 = p.now;
  const f0 = p.a.ep.stats().framesSent;
  const b0 = p.ab.stats.bytes_sent;
  const n0 = p.b.received.length;
  offsets.forEach((off, i) => {
    p.drive(t0 + off - p.now); // lands exactly on t0 + off
    p.a.submit(chat(i));
  });
  p.driveUntil(() => p.b.received.length === n0 + offsets.length);
  const arrivals = p.b.received.slice(n0).map((r) => r.at - t0);
  // a's frames up to the last arrival: data (and no ACKs: b sent nothing ack-eliciting yet)
  return { t0, arrivals, framesA: p.a.ep.stats().framesSent - f0, bytesAB: p.ab.stats.bytes_sent - b0 };
}

test('coalesceDelayMs: a lone message on an idle link waits exactly the bound, no more', (t) => {
  const at = (delay: number): number => sendSpread(quietPair({ tuning: { coalesceDelayMs: delay } }), [0]).arrivals[0];
  const none = at(0);
  const waited = at(40);
  t.log(`arrival without coalescing ${none.toFixed(1)} ms, with 40 ms ${waited.toFixed(1)} ms`);
  t.true(Math.abs(waited - none - 40) < 0.001, `held ${waited - none} ms, expected 40`);
});

test('coalesceDelayMs: messages arriving within the delay share one frame; fewer bytes on the bearer', (t) => {
  const offsets = [0, 10, 20, 30];
  const apart = sendSpread(quietPair({ tuning: { coalesceDelayMs: 0 } }), offsets);
  const together = sendSpread(quietPair({ tuning: { coalesceDelayMs: 40 } }), offsets);
  t.log(`without: ${apart.framesA} frames ${apart.bytesAB} B; with 40 ms: ${together.framesA} frames ${together.bytesAB} B`);
  t.is(apart.framesA, 4);
  t.is(together.framesA, 1);
  t.true(together.bytesAB < apart.bytesAB);
  // the first message waited the bound, the others less
  t.true(Math.max(...together.arrivals) - Math.max(...apart.arrivals) <= 40 + 0.001);
  t.deepEqual(together.arrivals.map((a) => Math.round(a)), together.arrivals.map(() => Math.round(together.arrivals[0])));
});

test('coalesceDelayMs: a frame already full goes at once', (t) => {
  const p = quietPair({ tuning: { coalesceDelayMs: 1_000 } });
  const t0 = p.now;
  const n0 = p.b.received.length;
  // 60 messages: far more than a 508-byte frame holds, even compressed
  for (let i = 0; i < 60; i++) p.a.submit(chat(i));
  p.driveUntil(() => p.b.received.length > n0);
  const first = p.b.received[n0].at - t0;
  t.log(`first of 60 arrived after ${first.toFixed(1)} ms`);
  t.true(first < 1_000, `the first full frame waited for the coalescing delay (${first} ms)`);
  p.driveUntil(() => p.b.received.length === n0 + 60);
  t.is(p.b.received.length, n0 + 60);
});

test('coalesceDelayMs: retransmissions do not wait', (t) => {
  // Lose a's first data frame: its RTO retransmission must not add the coalescing delay.
  const run = (delay: number): number => {
    const p = quietPair({ tuning: { coalesceDelayMs: delay, rtoMinMs: 700 } });
    const t0 = p.now;
    p.ab.outage(t0, 100);
    p.a.submit(chat(1));
    p.driveUntil(() => p.b.received.length === 1);
    t.true(p.a.ep.stats().retransmits >= 1);
    return p.b.received[0].at - t0;
  };
  const none = run(0);
  const held = run(60);
  t.log(`lost then retransmitted: arrival ${none.toFixed(1)} ms without coalescing, ${held.toFixed(1)} ms with 60 ms`);
  // only the first transmission waited (60 ms); the RTO counts from it, the retransmission goes at once
  t.true(Math.abs(held - none - 60) < 0.001, `retransmission held ${held - none - 60} ms extra`);
});

test('linkDownAfterS: down exactly that long after the last frame heard, counted; up again when frames return', (t) => {
  const downAfter = (linkDownAfterS: number | undefined): { silentMs: number; downs: number; up: boolean } => {
    const p = quietPair({ tuning: { keepaliveS: 2, ...(linkDownAfterS === undefined ? {} : { linkDownAfterS }) } });
    // the outage starts right after a hears a frame (a keepalive or its ACK)
    let seen = p.a.ep.stats().framesReceived;
    p.driveUntil(() => p.a.ep.stats().framesReceived !== seen);
    seen = p.a.ep.stats().framesReceived;
    let heard = p.now;
    p.ba.outage(p.now, 60_000);
    const down = p.driveUntil(() => {
      const n = p.a.ep.stats().framesReceived;
      if (n !== seen) { seen = n; heard = p.now; }
      return p.a.events.some((e) => e.type === 'down');
    }, 120_000);
    t.true(down, 'down event');
    const silentMs = p.now - heard;
    const downs = p.a.metrics.get('link_down_total', { link: '' });
    const upsBefore = p.a.events.filter((e) => e.type === 'up').length;
    p.driveUntil(() => p.a.events.filter((e) => e.type === 'up').length > upsBefore, 120_000);
    return { silentMs, downs, up: p.a.events.filter((e) => e.type === 'up').length > upsBefore };
  };
  const configured = downAfter(7);
  const dflt = downAfter(undefined);
  t.log(`down after ${configured.silentMs} ms of silence with linkDownAfterS 7; ${dflt.silentMs} ms by default (3 x keepaliveS 2)`);
  t.is(configured.silentMs, 7_000);
  t.is(dflt.silentMs, 6_000);
  t.is(configured.downs, 1);
  t.true(configured.up, 'up again after the outage');
});

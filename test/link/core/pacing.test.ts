/**
 * The pacer (src/link/core/pacing.ts): data frames are built when the line is
 * within one frame's time of being free, or PACING_AHEAD_MS (at most
 * PACING_AHEAD_FRAMES frames) when frames are short but not under a
 * millisecond, so a relay whose event loop runs a turn late still finds a
 * frame queued. Sans-IO: times are plain numbers.
 */
import test from 'ava';
import { Pacer, PACING_AHEAD_FRAMES, PACING_AHEAD_MS, type Waiting } from '../../../src/link/core/pacing.ts';

/** Messages waiting that fill frames (no coalescing wait). */
const full: Waiting = { waitingSince: 0, streamPending: () => true, compressionRatio: () => 4, waitingReaches: () => true };

test('on a fast bearer a frame may be built 30 ms before the line is free', (t) => {
  const p = new Pacer({ rateBps: 1_000_000, maxFrame: 1200, coalesceDelayMs: 5 });
  t.is(p.dataAt(full), -Infinity, 'nothing sent yet: at once');
  // Ten frames built at t=0 keep the line busy for 96 ms.
  let freeAt = 0;
  for (let i = 0; i < 10; i++) freeAt = p.sent(0, 1200);
  t.true(Math.abs(freeAt - 96) < 1e-9);
  t.is(PACING_AHEAD_MS, 30);
  t.true(Math.abs(p.dataAt(full)! - (freeAt - 30)) < 1e-9, 'the next data frame may be built 30 ms ahead, not one frame time (9.6 ms)');
});

test('on a slow bearer one frame time stays the slack', (t) => {
  const p = new Pacer({ rateBps: 64_000, maxFrame: 1200, coalesceDelayMs: 75 });
  const freeAt = p.sent(1000, 1200); // 150 ms of line
  t.is(freeAt, 1150);
  t.is(p.dataAt(full), 1000, 'one frame (150 ms) ahead of the line being free');
});

test('on a mid-rate bearer at most four frames are built ahead', (t) => {
  const p = new Pacer({ rateBps: 2_000_000, maxFrame: 1200, coalesceDelayMs: 5 }); // 4.8 ms a frame
  let freeAt = 0;
  for (let i = 0; i < 20; i++) freeAt = p.sent(0, 1200);
  t.is(PACING_AHEAD_FRAMES, 4);
  t.true(Math.abs(p.dataAt(full)! - (freeAt - 4 * 4.8)) < 1e-9, '19.2 ms ahead, not 30');
});

test('on a bearer whose frame takes under a millisecond, one frame ahead (waiting fills frames)', (t) => {
  const p = new Pacer({ rateBps: 100_000_000, maxFrame: 1200, coalesceDelayMs: 5 }); // 0.096 ms a frame
  let freeAt = 0;
  for (let i = 0; i < 100; i++) freeAt = p.sent(0, 1200);
  t.true(Math.abs(p.dataAt(full)! - (freeAt - 0.096)) < 1e-9);
});

test('a move to another bearer paces at its rate', (t) => {
  const s = { rateBps: 64_000, maxFrame: 1200, coalesceDelayMs: 5 };
  const p = new Pacer(s);
  p.sent(0, 1200);
  t.is(p.dataAt(full), 0, 'one 150 ms frame ahead');
  Object.assign(s, { rateBps: 1_000_000 }); // as endpoint.useBearer does
  p.reset();
  const freeAt = p.sent(0, 1200);
  t.true(Math.abs(p.dataAt(full)! - (freeAt - 30)) < 1e-9, 'then 30 ms ahead at 1 Mbit/s');
});

test('an unknown rate does not pace', (t) => {
  const p = new Pacer({ rateBps: undefined, maxFrame: 1200, coalesceDelayMs: 0 });
  p.sent(0, 1200);
  t.is(p.dataAt(full), undefined);
});

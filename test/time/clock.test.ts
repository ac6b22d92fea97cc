/** The clocks hosts pass to their parts (src/time). */
import test from 'ava';
import { ManualClock, SystemClock, sleep } from '../../src/time/index.ts';

test('simulated time: timers fire in time order (ties in scheduling order), only inside advance, each at its own time', (t) => {
  const clock = new ManualClock(1_000_000);
  const seen: Array<[string, number]> = [];
  const at = (name: string) => () => void seen.push([name, clock.now()]);
  clock.schedule(30, at('c'));
  clock.schedule(10, at('a1'));
  clock.schedule(10, at('a2'));
  const cancel = clock.schedule(20, at('cancelled'));
  // A timer set by a timer, due within the same advance, fires in it.
  clock.schedule(15, () => void clock.schedule(5, at('chained')));
  cancel();
  t.is(clock.pending, 4);
  t.deepEqual(seen, [], 'nothing before advance');
  clock.advance(25);
  t.deepEqual(seen, [['a1', 10], ['a2', 10], ['chained', 20]]);
  t.is(clock.now(), 25);
  t.is(clock.wall(), 1_000_025);
  t.is(clock.nextAt(), 30);
  clock.advance(100);
  t.deepEqual(seen.at(-1), ['c', 30]);
  t.is(clock.pending, 0);
});

test('simulated time: a throwing timer does not stop the others due with it', (t) => {
  const clock = new ManualClock();
  const ran: string[] = [];
  clock.schedule(1, () => {
    throw new Error('boom');
  });
  clock.schedule(1, () => void ran.push('after'));
  t.throws(() => clock.advance(1), { message: 'boom' });
  t.deepEqual(ran, ['after']);
});

test('simulated time: many re-armed timers (cancel, schedule again) keep one live entry each', (t) => {
  const clock = new ManualClock();
  let cancel = clock.schedule(1000, () => t.fail('cancelled timer ran'));
  for (let i = 0; i < 1000; i++) {
    cancel();
    cancel = clock.schedule(1000 + i, () => undefined);
  }
  t.is(clock.pending, 1);
  clock.advance(2000);
  t.is(clock.pending, 0);
});

test('system clock: timers fire in order on one unref\'d Node timer; a cancelled one never', async (t) => {
  // Its timer does not keep the process alive (the host's sockets do): this test holds it open.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const clock = new SystemClock();
  const seen: string[] = [];
  clock.schedule(20, () => void seen.push('late'));
  const cancel = clock.schedule(5, () => void seen.push('cancelled'));
  clock.schedule(0, () => void seen.push('first'));
  cancel();
  await sleep(clock, 30);
  t.deepEqual(seen, ['first', 'late']);
});

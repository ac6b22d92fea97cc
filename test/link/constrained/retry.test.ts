/**
 * Spool writes the link cannot skip are tried again every second while the
 * disk refuses them, on the link's clock (simulated here): no wall-clock wait.
 */
import test from 'ava';
import { retryingWrite, STORE_RETRY_MS } from '../../../src/link/constrained/retry.ts';
import { SpoolDiskFullError, SpoolError } from '../../../src/spool/index.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { silentLogger } from '../../../src/obs/log.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function context(clock: ManualClock) {
  const state = { running: true, failures: [] as string[] };
  return { state, ctx: { clock, log: silentLogger, running: () => state.running, failed: (m: string) => void state.failures.push(m) } };
}

test('a full disk: the write is tried again each second until it succeeds', async (t) => {
  const clock = new ManualClock();
  const { state, ctx } = context(clock);
  const at: number[] = [];
  const p = retryingWrite(ctx, async () => {
    at.push(clock.now());
    if (at.length < 3) throw new SpoolDiskFullError('receive');
    return 'stored';
  }, 'could not store', {});
  for (let i = 0; i < 3; i++) {
    await turn();
    clock.advance(STORE_RETRY_MS);
  }
  t.is(await p, 'stored');
  t.deepEqual(at, [0, 1000, 2000]);
  t.is(state.failures.length, 2);
});

test('a failure that waiting cannot mend is thrown at once; so is a disk failure once the link stops', async (t) => {
  const clock = new ManualClock();
  const { state, ctx } = context(clock);
  let n = 0;
  await t.throwsAsync(retryingWrite(ctx, async () => {
    n++;
    throw new SpoolError('SPOOL_BAD_ID', 'bad id');
  }, 'x', {}), { message: 'bad id' });
  t.is(n, 1);
  const p = retryingWrite(ctx, async () => {
    n++;
    throw new SpoolDiskFullError('assign');
  }, 'x', {});
  await turn();
  t.is(clock.pending, 1, 'waiting for the next try');
  state.running = false;
  clock.advance(STORE_RETRY_MS);
  await t.throwsAsync(p, { instanceOf: SpoolDiskFullError });
  t.is(n, 2, 'no try after the stop');
});

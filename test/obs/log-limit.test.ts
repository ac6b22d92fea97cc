import test from 'ava';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RateLimitedLog } from '../../src/obs/log-limit.ts';

test('a flood of events makes one line per interval, each saying how many it stands for', (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  let now = 0;
  const r = new RateLimitedLog(log, 'refused', 10_000, () => now);
  t.teardown(() => r.close());
  for (let i = 0; i < 500; i++) {
    r.hit({ address: `10.0.0.${i % 7}` });
    now += 50; // 500 events over 25 s
  }
  // Lines are written synchronously by pino's stream; the last batch waits for its timer.
  t.deepEqual(lines.map((l) => l.events), [1, 200, 200]);
  t.true(lines.every((l) => l.msg === 'refused' && l.level === 40 && typeof l.address === 'string'));
});

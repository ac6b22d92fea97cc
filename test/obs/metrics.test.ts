import test from 'ava';
import { Metrics } from '../../src/obs/metrics.ts';

test('counters sum over matching labels and render as Prometheus text', async (t) => {
  const m = new Metrics({ site: 'ship-1' });
  m.inc('drops_total', { reason: 'auth' });
  m.inc('drops_total', { reason: 'auth' }, 2);
  m.inc('drops_total', { reason: 'crc' });
  t.is(m.get('drops_total', { reason: 'auth' }), 3);
  t.is(m.get('drops_total'), 4);
  t.is(await m.value('drops_total', { reason: 'crc' }), 1);
  t.regex(await m.text(), /satrelay_drops_total\{reason="auth",site="ship-1"\} 3/);
});

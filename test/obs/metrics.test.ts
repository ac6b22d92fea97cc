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

test('tally() adds up per label set and hands the sums to the counter before every read (get, value, scrape)', async (t) => {
  const m = new Metrics({ site: 'ship-1' });
  for (let i = 0; i < 1000; i++) m.tally('stanzas_in_total', { direction: 'to_link', kind: i % 4 ? 'message' : 'presence' });
  m.inc('stanzas_in_total', { direction: 'to_link', kind: 'message' }, 5);
  t.is(m.get('stanzas_in_total', { kind: 'message' }), 755);
  t.is(m.get('stanzas_in_total', { kind: 'presence' }), 250);
  m.tally('stanzas_in_total', { direction: 'from_link', kind: 'iq' }, 3);
  t.is(await m.value('stanzas_in_total', { direction: 'from_link' }), 3);
  m.tally('stanzas_in_total', { direction: 'from_link', kind: 'iq' });
  const text = await m.text();
  t.regex(text, /satrelay_stanzas_in_total\{direction="from_link",kind="iq",site="ship-1"\} 4/);
  t.regex(text, /satrelay_stanzas_in_total\{direction="to_link",kind="message",site="ship-1"\} 755/);
  t.is(m.get('stanzas_in_total'), 1009, 'nothing counted twice across reads');
});

// The host side of the core's counters (core-metrics.ts): stats() snapshots become the catalog's
// metrics, brought up to date before every read, across an endpoint replaced by a new one.
import test from 'ava';
import { Metrics } from '../../../src/obs/metrics.ts';
import { METRICS } from '../../../src/obs/catalog.ts';
import { CoreMetrics, meterCore } from '../../../src/link/constrained/core-metrics.ts';
import { newCounters } from '../../../src/link/core/stats.ts';

test('what grew between snapshots is added, per reason where the metric has one', (t) => {
  const metrics = new Metrics();
  const cm = new CoreMetrics(metrics, 'shore');
  const c = newCounters();
  c.framesSent = 3; c.bytesSent = 300; c.framesDroppedBy.auth = 2; c.streamResets.inflate = 1; c.downs = 1;
  cm.update(c);
  c.framesSent = 5; c.framesDroppedBy.auth = 3; c.framesDroppedBy.replay = 4;
  cm.update(c);
  cm.update(c);
  t.is(metrics.get('link_frames_sent_total', { link: 'shore' }), 5);
  t.is(metrics.get('link_bytes_sent_total'), 300);
  t.is(metrics.get('link_frames_dropped_total', { reason: 'auth' }), 3);
  t.is(metrics.get('link_frames_dropped_total', { reason: 'replay' }), 4);
  t.is(metrics.get('link_stream_resets_total', { reason: 'inflate' }), 1);
  t.is(metrics.get('link_down_total'), 1);
  t.is(metrics.get('link_retransmits_total'), 0, 'nothing counted that did not grow');
});

test('a replaced endpoint (counting from 0 again) adds on to what was counted', (t) => {
  const metrics = new Metrics();
  const cm = new CoreMetrics(metrics, '');
  const old = newCounters();
  old.framesReceived = 10;
  cm.update(old);
  old.framesReceived = 12;
  cm.rebase(old);
  const fresh = newCounters();
  fresh.framesReceived = 1;
  cm.update(fresh);
  t.is(metrics.get('link_frames_received_total'), 13);
});

test('the metrics read the core\'s counters at every read, with the catalog\'s HELP', async (t) => {
  const metrics = new Metrics();
  const c = newCounters();
  meterCore(metrics, 'ship', () => c);
  c.outageProbes = 2;
  t.is(metrics.get('link_probes_total'), 2);
  c.outageProbes = 7;
  const text = await metrics.text();
  t.true(text.includes('satrelay_link_probes_total{link="ship"} 7'), text);
  t.true(text.includes(`# HELP satrelay_link_probes_total ${METRICS.link_probes_total.help}`));
});

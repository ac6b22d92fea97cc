import test from 'ava';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { UdpLinkDriver } from '../../../src/link/drivers/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { StandInEndpoint } from './stand-in.ts';

async function pair(t: { teardown(fn: () => unknown): void }) {
  const ea = new StandInEndpoint(), eb = new StandInEndpoint();
  const ma = new Metrics(), mb = new Metrics();
  const events = { a: 0, b: 0 };
  const a = new UdpLinkDriver(ea, { bind: '127.0.0.1:0', peer: '127.0.0.1:9', metrics: ma, name: 'a' }, { onEvents: () => events.a++ });
  await a.start();
  const b = new UdpLinkDriver(eb, { bind: '127.0.0.1:0', peer: a.address(), metrics: mb, name: 'b' }, { onEvents: () => events.b++ });
  await b.start();
  a.setPeer(b.address());
  t.teardown(() => Promise.all([a.close(), b.close()]));
  return { a, b, ea, eb, ma, mb, events };
}

test('two UDP drivers move frames both ways and report events', async (t) => {
  const { a, b, ea, eb, events } = await pair(t);
  const toB = Array.from({ length: 40 }, (_, i) => Buffer.from(`a->b ${i} ${'.'.repeat(i * 20)}`));
  const toA = Array.from({ length: 25 }, (_, i) => Buffer.from(`b->a ${i}`));
  ea.outbox.push(...toB);
  eb.outbox.push(...toA);
  a.poke();
  b.poke();
  await Promise.all([eb.waitFor(toB.length), ea.waitFor(toA.length)]);
  // loopback UDP keeps order in practice; compare as sets to be safe
  t.deepEqual(new Set(eb.received.map(String)), new Set(toB.map(String)));
  t.deepEqual(new Set(ea.received.map(String)), new Set(toA.map(String)));
  t.is(events.b, toB.length, 'onEvents after every handleFrame');
  t.is(events.a, toA.length);
});

test('datagrams from a foreign address are dropped and counted', async (t) => {
  const { ea, eb, a, b, ma } = await pair(t);
  const stranger = dgram.createSocket('udp4');
  t.teardown(() => stranger.close());
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
  const addr = a.address();
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => stranger.send(Buffer.from('intruder'), addr.port, addr.host, () => r()));
  eb.outbox.push(Buffer.from('legit'));
  b.poke();
  await ea.waitFor(1);
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(ea.received.map(String), ['legit']);
  t.is(ma.get('link_driver_dropped_total', { reason: 'foreign_peer' }), 3);
});

test('the single timer fires handleTimeout at the core deadline and re-arms', async (t) => {
  const { a, ea, eb } = await pair(t);
  const start = performance.now();
  ea.deadline = start + 40;
  a.poke();
  await new Promise((r) => setTimeout(r, 120));
  t.is(ea.timeouts.length, 1);
  t.true(ea.timeouts[0] >= start + 40, `fired at +${ea.timeouts[0] - start} ms`);
  t.true(ea.timeouts[0] < start + 1000, "fired, not stuck");
  // a frame queued by the core during the timeout goes out from the same loop
  ea.deadline = performance.now() + 20;
  const orig = ea.handleTimeout.bind(ea);
  ea.handleTimeout = (now) => {
    orig(now);
    ea.outbox.push(Buffer.from('retransmit'));
  };
  a.poke();
  await eb.waitFor(1);
  t.deepEqual(eb.received.map(String), ['retransmit']);
});

test('a deadline that moves later keeps the earlier timer, which looks again and re-arms; one that moves earlier re-arms at once (simulated time)', async (t) => {
  const clock = new ManualClock();
  const e = new StandInEndpoint();
  const d = new UdpLinkDriver(e, { bind: '127.0.0.1:0', peer: '127.0.0.1:9', name: 'x', clock }, { onEvents() {} });
  t.teardown(() => d.close());
  await d.start();
  e.deadline = 100;
  d.poke();
  t.is(clock.pending, 1);
  t.is(clock.nextAt(), 100);
  // Later: no new timer (a busy link moves its deadline at every frame).
  e.deadline = 250;
  d.poke();
  t.is(clock.pending, 1, 'still the one timer');
  t.is(clock.nextAt(), 100);
  clock.advance(100);
  t.deepEqual(e.timeouts, [], 'it fired early: nothing due, the core is not asked');
  t.is(clock.nextAt(), 250, 're-armed for the deadline');
  // Earlier: re-armed at once.
  e.deadline = 180;
  d.poke();
  t.is(clock.pending, 1, 'the later timer gave way');
  t.is(clock.nextAt(), 180);
  clock.advance(80);
  t.deepEqual(e.timeouts, [180]);
  // Nothing due any more: no timer left behind.
  t.is(clock.pending, 0);
  e.deadline = 400;
  d.poke();
  e.deadline = undefined;
  d.poke();
  t.is(clock.pending, 0, 'no deadline: the timer is dropped');
});

test('bad bind address is a typed error', async (t) => {
  const e = new StandInEndpoint();
  t.throws(() => new UdpLinkDriver(e, { bind: 'nonsense', peer: '127.0.0.1:1' }, { onEvents() {} }), { code: 'DRIVER_BAD_ADDRESS' });
  const d = new UdpLinkDriver(e, { bind: '192.0.2.1:0', peer: '127.0.0.1:1' }, { onEvents() {} });
  await t.throwsAsync(d.start(), { code: 'DRIVER_START_FAILED' });
});

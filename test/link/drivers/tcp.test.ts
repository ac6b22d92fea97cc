import test from 'ava';
import net from 'node:net';
import { LengthPrefixDecoder, TcpLinkDriver, encodeLengthPrefixed } from '../../../src/link/drivers/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { StandInEndpoint } from './stand-in.ts';
import { rng, randomBytes } from './rng.ts';

test('length-prefix decoder: whole, split and byte by byte', (t) => {
  const seed = 5;
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const frames = Array.from({ length: 30 }, () => randomBytes(r, 1 + Math.floor(r() * 3000)));
  const wire = Buffer.concat([...frames.map(encodeLengthPrefixed), Buffer.from([0, 0])]); // trailing keepalive
  const whole = new LengthPrefixDecoder(0xffff).push(wire);
  t.deepEqual(whole, frames);
  const d2 = new LengthPrefixDecoder(0xffff);
  const m = 1 + Math.floor(r() * (wire.length - 2));
  t.deepEqual([...d2.push(wire.subarray(0, m)), ...d2.push(wire.subarray(m))], frames);
  const d3 = new LengthPrefixDecoder(0xffff);
  const bytewise: Buffer[] = [];
  for (let i = 0; i < wire.length; i++) bytewise.push(...d3.push(wire.subarray(i, i + 1)));
  t.deepEqual(bytewise, frames);
  const d4 = new LengthPrefixDecoder(100);
  t.deepEqual(d4.push(Buffer.from([0x00, 0x01, 0x61, 0x01, 0x00, 0x00, 0x01, 0x62])), [Buffer.from('a')], 'frames before a bad length survive');
  t.is(d4.error?.code, 'DRIVER_FRAME_TOO_LARGE');
  t.deepEqual(d4.push(encodeLengthPrefixed(Buffer.from('later'))), [], 'nothing decoded after the error');
  t.throws(() => encodeLengthPrefixed(Buffer.alloc(70_000)), { code: 'DRIVER_FRAME_TOO_LARGE' });
});

test('TCP: frames both ways; dialler re-dials with back-off on its clock (simulated) and reconnects after the listener restarts', async (t) => {
  const clock = new ManualClock();
  const el = new StandInEndpoint(), ed = new StandInEndpoint();
  const md = new Metrics();
  const transport: boolean[] = [];
  let listener = new TcpLinkDriver(el, { bind: '127.0.0.1:0', name: 'shore' }, { onEvents() {} });
  await listener.start();
  const port = listener.address().port;
  const dialler = new TcpLinkDriver(ed, { peer: `127.0.0.1:${port}`, reconnectMinMs: 20, reconnectMaxMs: 100, metrics: md, name: 'ship', clock }, { onEvents() {}, onTransport: (up) => transport.push(up) });
  t.teardown(() => Promise.all([listener.close(), dialler.close()]));

  // queued before the connection exists: held in the endpoint, sent on connect
  ed.outbox.push(Buffer.from('early'));
  await dialler.start();
  el.outbox.push(Buffer.from('hello ship'), Buffer.alloc(60_000, 0x5a));
  await el.waitFor(1);
  listener.poke();
  await ed.waitFor(2);
  t.deepEqual(el.received.map(String), ['early']);
  t.is(ed.received[0].toString(), 'hello ship');
  t.true(ed.received[1].equals(Buffer.alloc(60_000, 0x5a)), 'a 60 KB frame crosses intact');

  // listener goes away; the dialler notices and re-dials with back-off
  await listener.close();
  await until(() => transport.includes(false));
  t.false(dialler.connected);
  ed.outbox.push(Buffer.from('while down'));
  dialler.poke();
  t.is(ed.outbox.length, 1, 'nothing polled while disconnected');
  // Each refused dial schedules the next on the dialler's clock: 20, 40, 80, then 100 ms (the maximum).
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    await until(() => clock.nextAt() !== undefined);
    const dials = md.get('link_driver_dials_total');
    delays.push(clock.nextAt()! - clock.now());
    clock.advance(delays.at(-1)!);
    t.is(md.get('link_driver_dials_total'), dials + 1, 'one dial when the delay is up');
  }
  t.deepEqual(delays, [20, 40, 80, 100, 100]);
  await until(() => clock.nextAt() !== undefined);
  const el2 = new StandInEndpoint();
  listener = new TcpLinkDriver(el2, { bind: `127.0.0.1:${port}` }, { onEvents() {} });
  await listener.start();
  clock.advance(100);
  await el2.waitFor(1, 3000);
  t.deepEqual(el2.received.map(String), ['while down']);
  el2.outbox.push(Buffer.from('back again'));
  listener.poke();
  await ed.waitFor(3);
  t.is(ed.received[2].toString(), 'back again');
  t.deepEqual(transport, [true, false, true]);
  t.is(md.get('link_driver_dials_total'), 7, 'the first dial, five refused, one that connects');
});

test('TCP: a bad length closes the connection and is counted', async (t) => {
  const el = new StandInEndpoint();
  const ml = new Metrics();
  const listener = new TcpLinkDriver(el, { bind: '127.0.0.1:0', maxFrame: 1000, metrics: ml }, { onEvents() {} });
  await listener.start();
  t.teardown(() => listener.close());
  const s = net.connect(listener.address().port, '127.0.0.1');
  t.teardown(() => s.destroy());
  await new Promise((r) => s.once('connect', r));
  s.write(Buffer.concat([encodeLengthPrefixed(Buffer.from('fine')), Buffer.from([0xff, 0xff, 1, 2, 3])]));
  await new Promise((r) => s.once('close', r));
  t.deepEqual(el.received.map(String), ['fine']);
  t.is(ml.get('link_driver_dropped_total', { reason: 'frame_too_large' }), 1);
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

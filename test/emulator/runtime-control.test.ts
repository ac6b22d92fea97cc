/** Faults injected at run time: addOutage / setLoss on the engine, control.outage / setLoss on the UDP driver. */
import test from 'ava';
import dgram from 'node:dgram';
import { LinkEmulator, EmulatorError } from '../../src/emulator/index.ts';
import { startUdpEmulator } from '../../src/emulator/drivers.ts';

const params = { rate_bps: 1_000_000, delay_ms: 10 };

test('addOutage: datagrams sent in the window are lost, before and after it they arrive', (t) => {
  const e = new LinkEmulator(params, 1);
  e.addOutage(100, 50);
  for (const at of [0, 90, 100, 120, 149, 151, 200]) e.send(at, 'ab', Buffer.alloc(10), 'datagram');
  const got = e.poll(10_000).length;
  t.is(e.stats.ab.dropped_outage, 3, 'the three sent inside [100, 150) were lost');
  t.is(got, 4);
});

test('addOutage: a stream chunk waits for the window to end', (t) => {
  const e = new LinkEmulator(params, 1);
  e.addOutage(0, 500);
  e.send(10, 'ba', Buffer.alloc(10), 'stream');
  const [d] = e.poll(10_000);
  t.true(d.at >= 500 + params.delay_ms, `arrived at ${d.at}`);
  t.is(e.stats.ba.delayed_outage, 1);
});

test('setLoss: a burst of total loss, then back to the lossless profile', (t) => {
  const e = new LinkEmulator(params, 7);
  e.setLoss({ model: 'bernoulli', p: 1 });
  for (let i = 0; i < 20; i++) e.send(i, 'ab', Buffer.alloc(10), 'datagram');
  e.setLoss(undefined);
  for (let i = 20; i < 40; i++) e.send(i, 'ab', Buffer.alloc(10), 'datagram');
  t.is(e.stats.ab.dropped_loss, 20);
  t.is(e.poll(10_000).length, 20);
});

test('setLoss(null) switches a lossy profile off; bad models are typed errors', (t) => {
  const e = new LinkEmulator({ ...params, loss: { model: 'bernoulli', p: 1 } }, 3);
  e.setLoss(null);
  for (let i = 0; i < 10; i++) e.send(i, 'ab', Buffer.alloc(10), 'datagram');
  t.is(e.poll(10_000).length, 10);
  const err = t.throws(() => e.setLoss({ model: 'bernoulli', p: 2 }));
  t.true(err instanceof EmulatorError && err.code === 'EMU_BAD_PARAMS');
  t.throws(() => e.addOutage(0, -1), { instanceOf: EmulatorError });
});

test('udp driver: control.outage drops datagrams in real time, then traffic flows again', async (t) => {
  const rx = dgram.createSocket('udp4');
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', () => r()));
  const tx = dgram.createSocket('udp4');
  t.teardown(() => {
    rx.close();
    tx.close();
  });
  const emu = await startUdpEmulator({ params: { rate_bps: 1_000_000, delay_ms: 5 }, seed: 1, a: { listen: '127.0.0.1:0' }, b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${rx.address().port}` } });
  t.teardown(() => emu.close());
  const got: string[] = [];
  rx.on('message', (m) => got.push(m.toString()));
  const send = (s: string) => new Promise<void>((r) => tx.send(s, emu.addresses.a.port, '127.0.0.1', () => r()));
  const settle = () => new Promise((r) => setTimeout(r, 100));
  await send('before');
  await settle();
  emu.control.outage(300);
  await send('during');
  await settle();
  await new Promise((r) => setTimeout(r, 300));
  await send('after');
  await settle();
  t.deepEqual(got, ['before', 'after']);
  t.is(emu.stats().ab.dropped_outage, 1);
});

/**
 * The TCP emulator's `extra` listen/target pairs (used by the benchmark
 * baseline): both federation directions share one engine, and a reversed
 * pair carries its client's bytes in direction 'ba'.
 */
import test from 'ava';
import net from 'node:net';
import { startTcpEmulator } from '../../src/emulator/index.ts';

async function sink(): Promise<{ server: net.Server; port: number; got: () => string }> {
  let text = '';
  const server = net.createServer((s) => {
    s.on('data', (b) => (text += b.toString()));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as net.AddressInfo).port, got: () => text };
}

async function until(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('two listen/target pairs on one bearer: a reversed pair sends in direction ba', async (t) => {
  const [s1, s2] = [await sink(), await sink()];
  t.teardown(() => void s1.server.close());
  t.teardown(() => void s2.server.close());
  const emu = await startTcpEmulator({
    params: { rate_bps: 1_000_000, delay_ms: 5 },
    seed: 1,
    listen: '127.0.0.1:0',
    target: `127.0.0.1:${s1.port}`,
    extra: [{ listen: '127.0.0.1:0', target: `127.0.0.1:${s2.port}`, reverse: true }],
  });
  t.teardown(() => emu.close());
  t.is(emu.addresses.length, 2);
  t.deepEqual(emu.address, emu.addresses[0]);

  const c1 = net.connect(emu.addresses[0].port, '127.0.0.1');
  const c2 = net.connect(emu.addresses[1].port, '127.0.0.1');
  t.teardown(() => void c1.destroy());
  t.teardown(() => void c2.destroy());
  c1.write('x'.repeat(1000));
  c2.write('y'.repeat(3000));
  await until(() => s1.got().length === 1000 && s2.got().length === 3000);
  t.is(s1.got(), 'x'.repeat(1000));
  t.is(s2.got(), 'y'.repeat(3000));
  const st = emu.stats();
  // Data plus one 40-byte SYN each way per connection.
  t.is(st.ab.bytes_sent, 1000 + 40 + 40);
  t.is(st.ba.bytes_sent, 3000 + 40 + 40);
  t.is(emu.connections(), 2);
});

/** Real-time drivers over loopback: UDP relay pair, TCP proxy, pty pair through socat. */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import { startPtyEmulator, startTcpEmulator, startUdpEmulator } from '../../src/emulator/drivers.ts';
import { Rng } from '../../src/emulator/rng.ts';
import { Metrics } from '../../src/obs/metrics.ts';

const HAVE_SOCAT = spawnSync('socat', ['-V']).status === 0;

function randomBytes(seed: number, n: number): Buffer {
  const r = new Rng(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.u32() & 0xff;
  return b;
}

async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return s;
}

function until(cond: () => boolean, ms: number): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() - start > ms) {
        clearInterval(t);
        reject(new Error(`condition not met within ${ms} ms`));
      }
    }, 5);
  });
}

test('udp: 200 datagrams each way arrive intact and in order', async (t) => {
  const relayA = await udpSocket();
  const relayB = await udpSocket();
  const emu = await startUdpEmulator({
    params: { rate_bps: 20_000_000, delay_ms: 5 },
    seed: 1,
    a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${relayA.address().port}` },
    b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${relayB.address().port}` },
  });
  t.teardown(async () => {
    await emu.close();
    relayA.close();
    relayB.close();
  });
  const gotB: Buffer[] = [];
  const gotA: Buffer[] = [];
  relayB.on('message', (m) => gotB.push(m));
  relayA.on('message', (m) => gotA.push(m));
  const sentAB = Array.from({ length: 200 }, (_, i) => randomBytes(i, 100 + ((i * 37) % 1200)));
  const sentBA = Array.from({ length: 200 }, (_, i) => randomBytes(1000 + i, 64 + ((i * 53) % 900)));
  for (let i = 0; i < 200; i++) {
    relayA.send(sentAB[i], emu.addresses.a.port, '127.0.0.1');
    relayB.send(sentBA[i], emu.addresses.b.port, '127.0.0.1');
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 2)); // stay under loopback socket buffers
  }
  await until(() => gotB.length >= 200 && gotA.length >= 200, 10_000);
  t.deepEqual(gotB, sentAB);
  t.deepEqual(gotA, sentBA);
  const st = emu.stats();
  t.is(st.ab.delivered, 200);
  t.is(st.ba.delivered, 200);
  t.regex(emu.summary(), /ab: sent 200 .* delivered 200/);
});

test('udp: rate, delay and loss apply in real time; forward learnt from the sender', async (t) => {
  const relayA = await udpSocket();
  const relayB = await udpSocket();
  const metrics = new Metrics();
  const seed = 5;
  const emu = await startUdpEmulator({
    params: { rate_bps: 80_000, delay_ms: 50, loss: { model: 'bernoulli', p: 0.3 } },
    seed,
    metrics,
    a: { listen: '127.0.0.1:0' },
    b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${relayB.address().port}` },
  });
  t.teardown(async () => {
    await emu.close();
    relayA.close();
    relayB.close();
  });
  // First packet: 1000 B = 100 ms on the line + 50 ms delay.
  const got: Array<{ m: Buffer; at: number }> = [];
  relayB.on('message', (m) => got.push({ m, at: Date.now() }));
  const gotA: Buffer[] = [];
  relayA.on('message', (m) => gotA.push(m));
  const start = Date.now();
  for (let i = 0; i < 20; i++) relayA.send(Buffer.alloc(200, i), emu.addresses.a.port, '127.0.0.1');
  await until(() => emu.stats().ab.sent === 20 && got.length + emu.stats().ab.dropped_loss === 20, 5000);
  const st = emu.stats();
  t.is(got.length, st.ab.delivered, `seed=${seed}`);
  t.true(st.ab.dropped_loss > 0 && st.ab.dropped_loss < 20, `seed=${seed}`);
  t.is(metrics.get('emulator_dropped_loss_total', { dir: 'ab' }), st.ab.dropped_loss);
  // 200 B = 20 ms each on the line: the k-th packet cannot arrive before (k+1)*20 + 50 ms.
  for (const g of got) {
    const k = g.m[0];
    t.true(g.at - start >= (k + 1) * 20 + 50 - 2, `packet ${k} after ${g.at - start} ms`);
  }
  // Side A learnt its forward address from relayA: B -> A works.
  relayB.send(Buffer.from('back'), emu.addresses.b.port, '127.0.0.1');
  await until(() => emu.stats().ba.sent === 1 && gotA.length + emu.stats().ba.dropped_loss === 1, 3000);
  t.is(gotA.length, emu.stats().ba.delivered);
});

test('tcp: a 100 KB stream crosses intact both ways; the handshake costs a round trip', async (t) => {
  const up = randomBytes(7, 100_000);
  const down = randomBytes(8, 100_000);
  let firstByteAt = 0;
  // Taken before connecting: the emulator's SYN leg starts at its accept, which may come before the client's connect callback runs.
  let dialedAt = 0;
  const serverGot: Buffer[] = [];
  const target = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => {
      if (!firstByteAt) firstByteAt = Date.now();
      serverGot.push(d);
    });
    s.on('end', () => s.end(down));
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const emu = await startTcpEmulator({
    params: { rate_bps: 20_000_000, delay_ms: 100 },
    seed: 2,
    listen: '127.0.0.1:0',
    target: { host: '127.0.0.1', port: (target.address() as net.AddressInfo).port },
  });
  t.teardown(async () => {
    await emu.close();
    await new Promise((r) => target.close(r));
  });
  const clientGot: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    dialedAt = Date.now();
    const c = net.connect({ host: '127.0.0.1', port: emu.address.port, allowHalfOpen: true }, () => {
      c.end(up);
    });
    c.on('data', (d) => clientGot.push(d));
    c.on('end', () => resolve());
    c.on('error', reject);
  });
  await done;
  t.true(Buffer.concat(serverGot).equals(up), 'client -> server intact');
  t.true(Buffer.concat(clientGot).equals(down), 'server -> client intact');
  // SYN across (100 ms), SYN-ACK back (100 ms), then data across (100 ms).
  t.true(firstByteAt - dialedAt >= 295, `first byte after ${firstByteAt - dialedAt} ms`);
  const st = emu.stats();
  t.is(st.ab.bytes_delivered, up.length + 2 * 40); // data + SYN + FIN
  t.is(st.ba.bytes_delivered, down.length + 2 * 40);
  await until(() => emu.connections() === 0, 3000);
  t.is(emu.connections(), 0);
});

test('tcp: back-pressure keeps a slow bearer lossless', async (t) => {
  // 2 Mbit/s, queue of 4 KB: the client must be paused, nothing dropped.
  const data = randomBytes(9, 60_000);
  const got: Buffer[] = [];
  const target = net.createServer((s) => s.on('data', (d) => got.push(d)));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const emu = await startTcpEmulator({
    params: { rate_bps: 2_000_000, delay_ms: 5, queue_bytes: 4096 },
    seed: 3,
    listen: '127.0.0.1:0',
    target: `127.0.0.1:${(target.address() as net.AddressInfo).port}`,
    handshake: false,
  });
  t.teardown(async () => {
    await emu.close();
    await new Promise((r) => target.close(r));
  });
  const c = net.connect({ host: '127.0.0.1', port: emu.address.port });
  t.teardown(() => c.destroy());
  c.on('connect', () => c.write(data));
  await until(() => got.reduce((a, b) => a + b.length, 0) >= data.length, 10_000);
  t.true(Buffer.concat(got).equals(data));
  t.is(emu.stats().ab.dropped_queue, 0);
});

function openDevice(path: string): { rs: tty.ReadStream; ws: tty.WriteStream; got: Buffer[] } {
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  const rs = new tty.ReadStream(fd);
  const ws = new tty.WriteStream(fd);
  const got: Buffer[] = [];
  rs.on('data', (d) => got.push(d));
  return { rs, ws, got };
}

const ptyTest = HAVE_SOCAT ? test : test.skip;

ptyTest('pty: bytes cross intact both ways', async (t) => {
  const emu = await startPtyEmulator({ params: { rate_bps: 2_000_000, delay_ms: 10 }, seed: 4 });
  const a = openDevice(emu.deviceA);
  const b = openDevice(emu.deviceB);
  t.teardown(async () => {
    a.rs.destroy();
    b.rs.destroy();
    await emu.close();
  });
  const ab = randomBytes(10, 20_000); // every byte value, incl. XON/XOFF, CR, ^C
  const ba = randomBytes(11, 20_000);
  a.ws.write(ab);
  b.ws.write(ba);
  const len = (x: Buffer[]): number => x.reduce((s, v) => s + v.length, 0);
  await until(() => len(b.got) >= ab.length && len(a.got) >= ba.length, 10_000);
  t.true(Buffer.concat(b.got).equals(ab), 'A -> B intact');
  t.true(Buffer.concat(a.got).equals(ba), 'B -> A intact');
  t.is(emu.stats().ab.bytes_delivered, ab.length);
  a.rs.destroy();
  b.rs.destroy();
  await emu.close();
  t.false(fs.existsSync(emu.deviceA), 'temp devices removed');
});

ptyTest('pty: bit errors reach the far device and are counted', async (t) => {
  const seed = 12;
  const emu = await startPtyEmulator({ params: { rate_bps: 2_000_000, delay_ms: 1, ber: 1e-3 }, seed });
  const a = openDevice(emu.deviceA);
  const b = openDevice(emu.deviceB);
  t.teardown(async () => {
    a.rs.destroy();
    b.rs.destroy();
    await emu.close();
  });
  const ab = randomBytes(13, 10_000);
  a.ws.write(ab);
  await until(() => b.got.reduce((s, v) => s + v.length, 0) >= ab.length, 10_000);
  const got = Buffer.concat(b.got);
  let flips = 0;
  for (let i = 0; i < ab.length; i++) for (let x = ab[i] ^ got[i]; x; x >>= 1) flips += x & 1;
  t.true(flips > 0, `seed=${seed}`);
  t.is(flips, emu.stats().ab.bits_flipped, `seed=${seed}`);
});

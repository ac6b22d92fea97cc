import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { SerialLinkDriver, encodeSerialFrame } from '../../../src/link/drivers/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { StandInEndpoint } from './stand-in.ts';
import { rng, randomBytes } from './rng.ts';

type T = { teardown(fn: () => unknown): void };

/** socat pty pair; resolves with the two link paths once socat is transferring. */
async function ptyPair(t: T, dir: string, name: string): Promise<[string, string]> {
  const a = join(dir, `${name}-a`), b = join(dir, `${name}-b`);
  const p = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { if (p.exitCode === null) p.kill('SIGTERM'); });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('starting data transfer loop')) resolve();
    });
    p.once('exit', (code) => reject(new Error(`socat exited ${code}: ${err}`)));
  });
  return [a, b];
}

function tempDir(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-serial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function openRaw(t: T, path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
  t.teardown(() => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r())));
  return port;
}

test('serial over two pty pairs with garbage and bit flips injected mid-stream', async (t) => {
  const seed = 4242;
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const dir = tempDir(t);
  const [a1, a2] = await ptyPair(t, dir, 'a');
  const [b1, b2] = await ptyPair(t, dir, 'b');

  // Middle box a2 <-> b2: A->B frames may get a bit flipped, garbage (closed by 0x00) is inserted between frames.
  const ma2 = await openRaw(t, a2), mb2 = await openRaw(t, b2);
  const corrupted = new Set<number>();
  let garbage = 0;
  let seg: number[] = [];
  let index = 0;
  ma2.on('data', (chunk: Buffer) => {
    const out: Buffer[] = [];
    for (const byte of chunk) {
      if (byte !== 0) {
        seg.push(byte);
        continue;
      }
      if (seg.length > 0) {
        const s = Buffer.from(seg);
        if (r() < 0.15) {
          const pos = Math.floor(r() * s.length);
          let bit = Math.floor(r() * 8);
          if ((s[pos] ^ (1 << bit)) === 0) bit = (bit + 1) % 8; // keep 0x00 out: one frame stays one frame
          s[pos] ^= 1 << bit;
          corrupted.add(index);
        }
        index++;
        out.push(s);
      }
      out.push(Buffer.from([0]));
      seg = [];
      if (r() < 0.3) {
        out.push(Buffer.from(randomBytes(r, 1 + Math.floor(r() * 30), 0).map((x) => x || 0x7e)), Buffer.from([0]));
        garbage++;
      }
    }
    if (out.length) mb2.write(Buffer.concat(out));
  });
  mb2.on('data', (chunk: Buffer) => ma2.write(chunk));

  const ea = new StandInEndpoint(), eb = new StandInEndpoint();
  const mb = new Metrics();
  const da = new SerialLinkDriver(ea, { device: a1, baud: 115200, name: 'a' }, { onEvents() {} });
  const db = new SerialLinkDriver(eb, { device: b1, baud: 115200, name: 'b', metrics: mb }, { onEvents() {} });
  await da.start();
  await db.start();
  t.teardown(() => Promise.all([da.close(), db.close()]));

  const toB = Array.from({ length: 60 }, (_, i) => Buffer.concat([Buffer.from(`#${i}:`), randomBytes(r, 20 + Math.floor(r() * 200), 0.2)]));
  const toA = Array.from({ length: 10 }, (_, i) => Buffer.from(`reply ${i} \x00 with a zero`));
  ea.outbox.push(...toB);
  eb.outbox.push(...toA);
  da.poke();
  db.poke();
  await ea.waitFor(toA.length);
  // wait until the middle box has seen all frames and B has consumed them
  const end = Date.now() + 5000;
  while (index < toB.length || eb.received.length + db.rxStats.dropped.crc + db.rxStats.dropped.cobs + db.rxStats.dropped.runt < toB.length + garbage) {
    if (Date.now() > end) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  t.true(corrupted.size > 0 && garbage > 0, 'the seed injects both kinds of damage');
  t.deepEqual(ea.received, toA);
  t.deepEqual(eb.received, toB.filter((_, i) => !corrupted.has(i)), `corrupted frames: ${[...corrupted]}`);
  t.is(db.rxStats.frames, toB.length - corrupted.size);
  const d = db.rxStats.dropped;
  t.is(d.crc + d.cobs + d.runt, corrupted.size + garbage, 'every bad frame counted once');
  t.is(mb.get('serial_frames_dropped_total', { link: 'b' }), corrupted.size + garbage);
});

test('serial writes are paced to the baud rate', async (t) => {
  const dir = tempDir(t);
  const [a, b] = await ptyPair(t, dir, 'p');
  const ea = new StandInEndpoint(), eb = new StandInEndpoint();
  const baud = 9600, maxQueueMs = 50;
  const da = new SerialLinkDriver(ea, { device: a, baud, maxQueueMs }, { onEvents() {} });
  const db = new SerialLinkDriver(eb, { device: b, baud }, { onEvents() {} });
  await da.start();
  await db.start();
  t.teardown(() => Promise.all([da.close(), db.close()]));
  const frames = Array.from({ length: 6 }, (_, i) => Buffer.alloc(100, 0x30 + i));
  ea.outbox.push(...frames);
  da.poke();
  await eb.waitFor(frames.length, 5000);
  t.deepEqual(eb.received, frames);
  const msPerByte = 10_000 / baud;
  const wireBytes = frames.slice(0, -1).map((f, i) => encodeSerialFrame(f, { leadingDelimiter: i === 0 }).length).reduce((x, y) => x + y, 0);
  const minSpan = wireBytes * msPerByte - maxQueueMs;
  const span = ea.polledAt[ea.polledAt.length - 1] - ea.polledAt[0];
  t.log(`last frame polled after ${span.toFixed(0)} ms (line time before it ${(wireBytes * msPerByte).toFixed(0)} ms)`);
  t.true(span >= minSpan - 2, `polled too early: ${span} < ${minSpan}`);
  t.true(span <= minSpan + 500, `paced too slowly: ${span}`);
});

test('opening a missing device is a typed error', async (t) => {
  const d = new SerialLinkDriver(new StandInEndpoint(), { device: '/nonexistent/tty', baud: 9600 }, { onEvents() {} });
  await t.throwsAsync(d.start(), { code: 'DRIVER_START_FAILED' });
  t.throws(() => new SerialLinkDriver(new StandInEndpoint(), { device: '/dev/null', baud: 0 }, { onEvents() {} }), { code: 'DRIVER_BAD_OPTIONS' });
});

// Real LinkEndpoint pairs over the serial (socat pty) and TCP drivers, wall clock.
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkEndpoint, type LinkTuning } from '../../../src/link/core/index.ts';
import { SerialLinkDriver, TcpLinkDriver, type LinkDriver } from '../../../src/link/drivers/index.ts';

type T = { teardown(fn: () => unknown): void };
const KEY = createHash('sha256').update('e2e-serial-tcp').digest();

/** Endpoint plus the owner's event handling: confirm at once, record deliveries and acks. */
class Side {
  readonly endpoint: LinkEndpoint;
  driver!: LinkDriver;
  readonly delivered: string[] = [];
  readonly acked = new Set<bigint>();
  private nextId = 1n;
  constructor(role: 'a' | 'b', tuning: LinkTuning) {
    this.endpoint = new LinkEndpoint({
      tuning, key: KEY, role, random: (n) => randomBytes(n),
      localDomains: [`${role}.example`], remoteDomains: [role === 'a' ? 'b.example' : 'a.example'],
    }, performance.now());
  }
  onEvents = (): void => {
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      if (ev.type === 'deliver') {
        this.delivered.push(ev.stanza.toString());
        this.endpoint.confirmDelivered(ev.id, performance.now());
      } else if (ev.type === 'acked') this.acked.add(ev.id);
    }
    this.driver.poke();
  };
  send(text: string): void {
    this.endpoint.submit(this.nextId++, Buffer.from(text), 'high', performance.now());
    this.driver.poke();
  }
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const stanzas = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `<message id="${tag}${i}" to="x@b.example"><body>hello ${i} ${'y'.repeat(i * 7)}</body></message>`);

test('real core over a socat pty pair at 57600 baud: all stanzas both ways', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-e2e-serial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pa = join(dir, 'a'), pb = join(dir, 'b');
  const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${pa}`, `pty,raw,echo=0,link=${pb}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => { if (socat.exitCode === null) socat.kill('SIGTERM'); });
  await new Promise<void>((res, rej) => {
    let err = '';
    socat.stderr.on('data', (d: Buffer) => { err += d; if (err.includes('starting data transfer loop')) res(); });
    socat.once('exit', (c) => rej(new Error(`socat exited ${c}: ${err}`)));
  });
  const baud = 57_600;
  const tuning: LinkTuning = { mtu: 256, rateBps: baud * 0.8, rttEstimateMs: 100, rtoMinMs: 200, rtoMaxMs: 2000, ackDelayMs: 10, keepaliveS: 2, compressionLevel: 6 };
  const a = new Side('a', tuning), b = new Side('b', tuning);
  a.driver = new SerialLinkDriver(a.endpoint, { device: pa, baud }, { onEvents: a.onEvents });
  b.driver = new SerialLinkDriver(b.endpoint, { device: pb, baud }, { onEvents: b.onEvents });
  await a.driver.start();
  await b.driver.start();
  t.teardown(() => Promise.all([a.driver.close(), b.driver.close()]));
  const toB = stanzas(40, 'ab'), toA = stanzas(10, 'ba');
  toB.forEach((s) => a.send(s));
  toA.forEach((s) => b.send(s));
  await until(() => a.acked.size === toB.length && b.acked.size === toA.length, 15_000, () => `acked ${a.acked.size}/${toB.length}, ${b.acked.size}/${toA.length}`);
  t.deepEqual([...b.delivered].sort(), [...toB].sort());
  t.deepEqual([...a.delivered].sort(), [...toA].sort());
});

test('real core over TCP: stanzas sent while the listener is down arrive after it restarts', async (t) => {
  const tuning: LinkTuning = { mtu: 1400, rateBps: 10_000_000, rttEstimateMs: 20, rtoMinMs: 50, rtoMaxMs: 500, ackDelayMs: 5, keepaliveS: 1, compressionLevel: 6 };
  const shore = new Side('b', tuning), ship = new Side('a', tuning);
  let listener = new TcpLinkDriver(shore.endpoint, { bind: '127.0.0.1:0' }, { onEvents: shore.onEvents });
  shore.driver = listener;
  await listener.start();
  const port = listener.address().port;
  ship.driver = new TcpLinkDriver(ship.endpoint, { peer: `127.0.0.1:${port}`, reconnectMinMs: 20, reconnectMaxMs: 200 }, { onEvents: ship.onEvents });
  await ship.driver.start();
  t.teardown(() => Promise.all([ship.driver.close(), shore.driver.close()]));

  const first = stanzas(20, 'p'), second = stanzas(20, 'q');
  first.forEach((s) => ship.send(s));
  await until(() => ship.acked.size === first.length, 5000, () => `acked ${ship.acked.size}`);
  await listener.close();
  second.forEach((s) => ship.send(s));
  await new Promise((r) => setTimeout(r, 100));
  listener = new TcpLinkDriver(shore.endpoint, { bind: `127.0.0.1:${port}` }, { onEvents: shore.onEvents });
  shore.driver = listener;
  await listener.start();
  await until(() => ship.acked.size === first.length + second.length, 10_000, () => `acked ${ship.acked.size}`);
  t.deepEqual([...shore.delivered].sort(), [...first, ...second].sort());
});

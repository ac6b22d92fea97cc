/**
 * Replayed and forged frames against two real constrained links (spool, link
 * state file, UDP driver) on loopback. A tap between them records what the
 * ship sends and injects from the address the shore takes for the ship's (a
 * forged source). The ship restarts 18 times; then, while a burst flows, the
 * first frames of all its earlier runs are replayed in rotation with forged
 * frames mixed in. Then the shore restarts and gets one old first frame first.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { ConstrainedLink } from '../../../src/link/constrained/index.ts';
import { transportDriver } from '../../../src/link/drivers/index.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { x } from '../../../src/xml/element.ts';
import { freeUdpPort } from '../../helpers/ports.ts';

const KEY = createHash('sha256').update('replay-udp').digest();
const TUNING = { mtu: 1200, rateBps: 2_000_000, rttEstimateMs: 20, rtoMinMs: 60, rtoMaxMs: 2000, ackDelayMs: 5, keepaliveS: 1, compressionLevel: 6 };

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

interface End { link: ConstrainedLink; spool: Spool; metrics: Metrics; logs: Array<{ level: number; msg: string }>; got: string[] }

async function startEnd(dir: string, side: 'ship' | 'shore', port: number, peer: number, got: string[] = []): Promise<End> {
  const spool = Spool.open(join(dir, 'spool'), { maxBytes: 1 << 24, maxStanzas: 10_000 });
  const metrics = new Metrics();
  const logs: End['logs'] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } });
  const link = new ConstrainedLink({
    name: side === 'ship' ? 'shore' : 'ship',
    domains: [side === 'ship' ? 'b.example' : 'a.example'], localDomains: [side === 'ship' ? 'a.example' : 'b.example'],
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
    driver: transportDriver({ kind: 'udp', bind: `127.0.0.1:${port}`, peer: `127.0.0.1:${peer}` }),
    tuning: TUNING, key: KEY, spool, heldTimeoutMs: 600_000, maxStanzaBytes: 65_536,
    logger: pino({ level: 'info' }, sink), metrics, keyId: 'test-key', stateFile: join(dir, 'link-state.json'),
  });
  await link.start({ deliver: async (el) => { got.push(el.attr('id')!); }, undeliverable: () => undefined });
  return { link, spool, metrics, logs, got };
}

async function stopEnd(e: End): Promise<void> {
  await e.link.stop();
  await e.spool.close();
}

const stanza = (id: string) => x('message', { from: 'alice@a.example/x', to: 'bob@b.example', type: 'chat', id }, x('body', {}, `hello ${id}`));

test.serial('replayed first frames of 18 earlier runs and forged frames over UDP: no resync, the burst arrives complete; the log calls it an attack, not a key mismatch', async (t) => {
  t.timeout(60_000);
  const root = mkdtempSync(join(tmpdir(), 'satrelay-replay-'));
  const ends: End[] = [];
  const tapShip = dgram.createSocket('udp4'); // faces the ship
  const tapShore = dgram.createSocket('udp4'); // faces the shore: the shore's "ship" address
  t.teardown(async () => {
    for (const e of ends) await stopEnd(e).catch(() => undefined);
    tapShip.close();
    tapShore.close();
    rmSync(root, { recursive: true, force: true });
  });
  const [shipPort, shorePort] = [await freeUdpPort(), await freeUdpPort()];
  await new Promise<void>((r) => tapShip.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => tapShore.bind(0, '127.0.0.1', r));
  let run = 0;
  const sent: Buffer[][] = [[]];
  tapShip.on('message', (m) => { sent[run].push(Buffer.from(m)); tapShore.send(m, shorePort, '127.0.0.1'); });
  tapShore.on('message', (m) => tapShip.send(m, shipPort, '127.0.0.1'));

  const shoreGot: string[] = [];
  const shore = await startEnd(join(root, 'shore'), 'shore', shorePort, tapShore.address().port, shoreGot);
  ends.push(shore);
  let ship = await startEnd(join(root, 'ship'), 'ship', shipPort, tapShip.address().port);
  ends.push(ship);
  for (; run < 18; ) {
    await ship.link.send(stanza(`run${run}`));
    t.true(await until(() => shoreGot.includes(`run${run}`), 5000), `run ${run} delivered`);
    await stopEnd(ship);
    ends.pop();
    sent[++run] = [];
    ship = await startEnd(join(root, 'ship'), 'ship', shipPort, tapShip.address().port);
    ends.push(ship);
  }
  t.true(await until(() => sent[run].length > 0, 5000));
  // Each restart of the ship is one resync at the shore once its first frame is there: count from after the last.
  t.true(await until(() => shore.metrics.get('link_resyncs_total') >= run, 5000), 'the shore heard the current run of the ship');
  const firsts = sent.slice(0, 18).map((frames) => frames[0]);
  const resyncsBefore = shore.metrics.get('link_resyncs_total');

  // The burst, with 500 replayed first frames a second and some forged ones (the current header, random body).
  const N = 300;
  for (let i = 0; i < N; i++) void ship.link.send(stanza(`burst${i}`));
  let injected = 0;
  let forged = 0;
  const cur = sent[run].at(-1)!;
  const flood = setInterval(() => {
    for (let j = 0; j < 5; j++) tapShore.send(firsts[injected++ % firsts.length], shorePort, '127.0.0.1');
    const f = Buffer.concat([cur.subarray(0, 5), Buffer.from([0x80 | (forged & 0x7f), 0x40]), randomBytes(60)]);
    forged++;
    tapShore.send(f, shorePort, '127.0.0.1');
  }, 10);
  const done = await until(() => new Set(shoreGot.filter((g) => g.startsWith('burst'))).size === N, 20_000);
  await until(() => injected >= 201, 5000);
  clearInterval(flood);
  t.true(done, `burst delivered: ${shoreGot.filter((g) => g.startsWith('burst')).length}/${N}`);
  t.true(injected >= 201, `${injected} old first frames replayed`);
  t.is(shoreGot.length, new Set(shoreGot).size, 'nothing delivered twice');
  t.is(shore.metrics.get('link_resyncs_total'), resyncsBefore, 'no resync');
  t.true(shore.metrics.get('link_frames_dropped_total', { reason: 'stale_session' }) >= injected * 0.9, 'dropped as earlier sessions (loopback may lose a few)');
  // Within one 5 s tick the shore says what happened.
  t.true(await until(() => shore.logs.some((l) => l.msg.includes('forged or corrupted frames')), 7000), 'the log names forged frames');
  t.false(shore.logs.some((l) => l.msg.includes('key_file')), 'and does not suggest a key mismatch');
  t.true(shore.metrics.get('link_forged_frames_total') > 0);
  t.is(shore.metrics.get('link_key_mismatch'), 0);

  // The shore restarts; the first thing it gets is one old first frame of the ship.
  await stopEnd(shore);
  ends.splice(ends.indexOf(shore), 1);
  const shore2 = await startEnd(join(root, 'shore'), 'shore', shorePort, tapShore.address().port, shoreGot);
  ends.push(shore2);
  tapShore.send(firsts[17], shorePort, '127.0.0.1');
  const oldSession = firsts[17].readUInt32BE(1);
  t.true(await until(() => shore2.link.stats().staleSession === oldSession, 2000), 'the old first frame is dropped as an earlier session');
  await ship.link.send(stanza('after'));
  t.true(await until(() => shoreGot.includes('after'), 5000));
  t.is(shore2.metrics.get('link_resyncs_total'), 0, 'the restarted shore did not resync');
});

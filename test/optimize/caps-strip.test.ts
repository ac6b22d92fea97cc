import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapsStripHook, CAPS_MARKER_NS, CAPS_STRIP_FILE, capsMarkerHash } from '../../src/optimize/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { CAPS, canon, conversations, recordingCtx, richPresence } from './fixtures.ts';

const toShore = 'shore'; // ship's link
const toShip = 'ship'; // shore's link
const tempDir = (t: { teardown(fn: () => void): void }): string => {
  const d = mkdtempSync(join(tmpdir(), 'satrelay-caps-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

/** Receiver sees a full element; returns the ack stanzas it sent back (after its state is on disk). */
async function crossFull(shore: CapsStripHook, p: XmlElement, dir?: string): Promise<XmlElement[]> {
  const seenOnDisk: boolean[] = [];
  const ctx = recordingCtx(toShip);
  const replyRemote = ctx.replyRemote;
  ctx.replyRemote = (el) => {
    if (dir) seenOnDisk.push(readFileSync(join(dir, CAPS_STRIP_FILE), 'utf8').includes(capsMarkerHash(p.getChild('c', CAPS)!)));
    replyRemote(el);
  };
  const out = shore.inbound(p, ctx);
  if (out.length !== 1 || canon(out[0]) !== canon(p)) throw new Error('full caps must pass unchanged');
  await shore.flush();
  if (seenOnDisk.includes(false)) throw new Error('ack sent before the state was written');
  return ctx.remote;
}

test('strip only after the partner acked; the marker is restored to exactly the original element', async (t) => {
  const dir = tempDir(t);
  const shipMetrics = new Metrics();
  const ship = new CapsStripHook({ metrics: shipMetrics });
  const shore = new CapsStripHook({ dataDir: dir, ackDelayMs: 1 });
  t.teardown(() => shore.close());
  const p1 = richPresence('alice@a.example/gajim.X1', 'bob@b.example');
  t.is(ship.outbound(p1, recordingCtx(toShore)), p1, 'not acked yet: sent in full');

  const acks = await crossFull(shore, p1, dir);
  t.is(acks.length, 1);
  const ack = acks[0];
  t.is(ack.attr('type'), 'result');
  t.is(ack.attr('from'), 'b.example');
  t.is(ack.attr('to'), 'a.example');
  t.deepEqual(ship.inbound(parseXml(ack.toString()), recordingCtx(toShore)), [], 'the ack is consumed');
  const h = capsMarkerHash(p1.getChild('c', CAPS)!);
  t.true(ship.isAcked('shore', h));

  const p2 = richPresence('alice@a.example/gajim.X1', 'carol@b.example');
  const stripped = ship.outbound(p2, recordingCtx(toShore));
  const marker = stripped.getChild('c', CAPS_MARKER_NS)!;
  t.is(marker.attr('h'), h);
  t.is(stripped.getChild('c', CAPS), undefined);
  t.true(stripped.toString().length < p2.toString().length - 40, 'the marker is shorter than the caps element');
  t.is(shipMetrics.get('optimize_caps_strip_total', { result: 'stripped' }), 1);

  const restored = shore.inbound(parseXml(stripped.toString()), recordingCtx(toShip));
  t.is(restored.length, 1);
  t.is(canon(restored[0]), canon(p2));
});

test('the receiver restores markers after a restart (its table is persisted before it acks)', async (t) => {
  const dir = tempDir(t);
  const ship = new CapsStripHook();
  const shore1 = new CapsStripHook({ dataDir: dir, ackDelayMs: 1, debounceMs: 60_000 });
  const p = richPresence('alice@a.example/c', 'bob@b.example', conversations);
  for (const ack of await crossFull(shore1, p, dir)) ship.inbound(ack, recordingCtx(toShore));
  await shore1.close();

  const shore2 = new CapsStripHook({ dataDir: dir });
  t.teardown(() => shore2.close());
  const stripped = ship.outbound(richPresence('alice@a.example/c', 'dave@b.example', conversations), recordingCtx(toShore));
  t.truthy(stripped.getChild('c', CAPS_MARKER_NS));
  const out = shore2.inbound(stripped, recordingCtx(toShip));
  t.is(canon(out[0]), canon(richPresence('alice@a.example/c', 'dave@b.example', conversations)));
});

test('the sender forgetting its acks is harmless: it sends in full and is re-acked', async (t) => {
  const dir = tempDir(t);
  const shore = new CapsStripHook({ dataDir: dir, ackDelayMs: 1, reackMs: 0 });
  t.teardown(() => shore.close());
  const p = richPresence('alice@a.example/c', 'bob@b.example');
  const first = new CapsStripHook();
  for (const ack of await crossFull(shore, p, dir)) first.inbound(ack, recordingCtx(toShore));
  const restarted = new CapsStripHook(); // no state kept
  t.is(restarted.outbound(p, recordingCtx(toShore)), p);
  const acks = await crossFull(shore, p, dir);
  t.is(acks.length, 1, 're-acked');
  restarted.inbound(acks[0], recordingCtx(toShore));
  t.truthy(restarted.outbound(p, recordingCtx(toShore)).getChild('c', CAPS_MARKER_NS));
});

test('an unknown marker (receiver state wiped) delivers without caps, is counted, and makes the sender resend in full', async (t) => {
  const dir = tempDir(t);
  const ship = new CapsStripHook({ dataDir: tempDir(t) });
  t.teardown(() => ship.close());
  const shore = new CapsStripHook({ dataDir: dir, ackDelayMs: 1 });
  const p = richPresence('alice@a.example/c', 'bob@b.example');
  for (const ack of await crossFull(shore, p, dir)) ship.inbound(ack, recordingCtx(toShore));
  await shore.close();
  rmSync(join(dir, CAPS_STRIP_FILE));

  const metrics = new Metrics();
  const wiped = new CapsStripHook({ dataDir: dir, ackDelayMs: 1, metrics });
  t.teardown(() => wiped.close());
  const stripped = ship.outbound(p, recordingCtx(toShore));
  t.truthy(stripped.getChild('c', CAPS_MARKER_NS));
  const ctx = recordingCtx(toShip);
  const out = wiped.inbound(stripped, ctx);
  t.is(out.length, 1, 'delivered, not dropped');
  t.is(out[0].getChild('c', CAPS_MARKER_NS), undefined, 'no marker leaks to the server');
  t.is(out[0].getChildText('show'), 'away');
  t.is(metrics.get('optimize_caps_restore_total', { result: 'unknown' }), 1);
  await wiped.flush();
  t.is(ctx.remote.length, 1);
  t.truthy(ctx.remote[0].getChild('caps', CAPS_MARKER_NS)!.getChild('forget'));
  ship.inbound(ctx.remote[0], recordingCtx(toShore));
  t.is(ship.outbound(p, recordingCtx(toShore)), p, 'sent in full again');
});

test('acks are per link: another link does not strip', async (t) => {
  const dir = tempDir(t);
  const ship = new CapsStripHook();
  const shore = new CapsStripHook({ dataDir: dir, ackDelayMs: 1 });
  t.teardown(() => shore.close());
  const p = richPresence('alice@a.example/c', 'bob@b.example');
  for (const ack of await crossFull(shore, p, dir)) ship.inbound(ack, recordingCtx(toShore));
  const other = 'shore-2';
  const q = richPresence('alice@a.example/c', 'zoe@c.example');
  t.is(ship.outbound(q, recordingCtx(other)), q);
});

test('strip switched off: outbound untouched, the receiving half still restores', async (t) => {
  const off = new CapsStripHook({ strip: false });
  const p = richPresence('alice@a.example/c', 'bob@b.example');
  off.inbound(parseXml(`<iq xmlns='jabber:server' type='result' id='x' from='b.example' to='a.example'><caps xmlns='${CAPS_MARKER_NS}'><ack h='${capsMarkerHash(p.getChild('c', CAPS)!)}'/></caps></iq>`), recordingCtx(toShore));
  t.is(off.outbound(p, recordingCtx(toShore)), p);
});

test('a full element seen again is re-acked with a doubling interval (a partner that never strips costs little)', async (t) => {
  let now = 0;
  const shore = new CapsStripHook({ ackDelayMs: 1, reackMs: 1000, now: () => now });
  const p = richPresence('alice@a.example/c', 'bob@b.example');
  const acksAt = async (at: number): Promise<number> => {
    now = at;
    const ctx = recordingCtx(toShip);
    shore.inbound(p, ctx);
    await shore.flush();
    return ctx.remote.length;
  };
  t.deepEqual([await acksAt(0), await acksAt(500), await acksAt(1000), await acksAt(2500), await acksAt(3000), await acksAt(6999), await acksAt(7000)], [1, 0, 1, 0, 1, 0, 1]);
});

/**
 * Two constrained links over loopback UDP, each with its spool on disk. While
 * a relay is stopped, its spool is damaged the way a failing disk does it;
 * after the restart no altered stanza reaches the far side, the intact
 * stanzas of a damaged link message are delivered, and each damaged stanza is
 * bounced to its sender (a local one through the router, a far one back over
 * the link).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { ConstrainedLink } from '../../../src/link/constrained/index.ts';
import { transportDriver } from '../../../src/link/drivers/index.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { x, type XmlElement } from '../../../src/xml/element.ts';
import { StanzaError } from '../../../src/xmpp/errors.ts';
import { freeUdpPort } from '../../helpers/ports.ts';
import { changeByteIn } from '../../helpers/lmdb-damage.ts';

const KEY = createHash('sha256').update('damaged-spool').digest();
const TUNING = { mtu: 1200, frameBytes: 1200, rateBps: 10_000_000, rttEstimateMs: 20, rtoMinMs: 60, rtoMaxMs: 1000, ackDelayMs: 5, keepaliveS: 1, compressionLevel: 6 };

interface Side {
  link: ConstrainedLink;
  spool: Spool;
  metrics: Metrics;
  delivered: XmlElement[];
  bounced: Array<{ el: XmlElement; err: StanzaError }>;
}

async function side(
  t: { teardown(fn: () => Promise<void> | void): void },
  o: { dir: string; name: string; local: string; remote: string; port: number; peer: number; refuse?: boolean },
): Promise<Side> {
  const spool = Spool.open(o.dir, { maxBytes: 1 << 24, maxStanzas: 100_000 });
  const metrics = new Metrics();
  const s: Side = { spool, metrics, delivered: [], bounced: [], link: undefined as unknown as ConstrainedLink };
  s.link = new ConstrainedLink({
    name: o.name,
    domains: [o.remote],
    localDomains: [o.local],
    driver: transportDriver({ kind: 'udp', bind: `127.0.0.1:${o.port}`, peer: `127.0.0.1:${o.peer}` }),
    tuning: TUNING,
    key: KEY,
    spool,
    heldTimeoutMs: 600_000,
    maxStanzaBytes: 65_536,
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
    metrics,
  });
  await s.link.start({
    // A local server that is away: the stanza stays in the inbound spool for the next start.
    deliver: (el) => (o.refuse ? Promise.reject(new Error('local server away')) : void s.delivered.push(el)),
    undeliverable: (el, err) => void s.bounced.push({ el, err }),
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await s.link.stop();
    await spool.close();
  };
  (s as Side & { stop: () => Promise<void> }).stop = stop;
  t.teardown(stop);
  return s;
}

const stop = (s: Side) => (s as Side & { stop: () => Promise<void> }).stop();

async function until(cond: () => boolean, what: () => string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const msg = (i: number, from = 'alice@a.example/r', to = 'bob@b.example') =>
  x('message', { from, to, type: 'chat', id: `m${i}` }, x('body', {}, `note-${String(i).padStart(2, '0')} from the ship ${randomBytes(6).toString('hex')}`));

function dirs(t: { teardown(fn: () => void): void }): { a: string; b: string } {
  const root = mkdtempSync(join(tmpdir(), 'satrelay-damaged-link-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return { a: join(root, 'ship'), b: join(root, 'shore') };
}

test('sender spool damaged while stopped: a broken packed message is rebuilt, a damaged stanza bounced, nothing altered delivered', async (t) => {
  t.timeout(60_000);
  const d = dirs(t);
  const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
  const A = { dir: d.a, name: 'shore', local: 'a.example', remote: 'b.example', port: pa, peer: pb };
  // The shore is away: everything stays in the ship's spool, packed into link messages.
  let ship = await side(t, A);
  const sent = Array.from({ length: 20 }, (_, i) => msg(i));
  await Promise.all(sent.map((el) => ship.link.send(el)));
  await until(() => ship.spool.groups('shore').some((g) => g.ids.length > 1), () => 'a packed link message recorded');
  await stop(ship);
  t.true(changeByteIn(d.a, '</message><message', 10, '[') >= 1, 'a markup byte broken in a packed link message');
  t.true(changeByteIn(d.a, 'note-07', 2, 'X') >= 1, 'one stanza damaged wherever it is stored');

  ship = await side(t, A);
  const shore = await side(t, { dir: d.b, name: 'ship', local: 'b.example', remote: 'a.example', port: pb, peer: pa });
  await until(() => shore.delivered.length >= 19, () => `shore has ${shore.delivered.length} of 19`);
  await until(() => ship.spool.stats('shore').outboundCount === 0, () => 'ship spool drained');
  const want = sent.filter((el) => el.attr('id') !== 'm7').map((el) => el.toString());
  t.deepEqual(shore.delivered.map((el) => el.toString()).sort(), want.sort(), 'every intact stanza delivered once, byte for byte; the damaged one not');
  t.deepEqual(ship.bounced.map((b) => [b.el.attr('id'), b.el.attr('from'), b.err.condition]), [['m7', 'alice@a.example/r', 'internal-server-error']]);
  t.is(ship.metrics.get('link_damaged_stanzas_total', { outcome: 'bounced' }), 1);
});

test('receiver spool damaged while stopped: intact stanzas handed over, the damaged one bounced back over the link', async (t) => {
  t.timeout(60_000);
  const d = dirs(t);
  const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
  const ship = await side(t, { dir: d.a, name: 'shore', local: 'a.example', remote: 'b.example', port: pa, peer: pb });
  const B = { dir: d.b, name: 'ship', local: 'b.example', remote: 'a.example', port: pb, peer: pa };
  let shore = await side(t, { ...B, refuse: true });
  const sent = Array.from({ length: 12 }, (_, i) => msg(i));
  await Promise.all(sent.map((el) => ship.link.send(el)));
  await until(() => ship.spool.stats('shore').outboundCount === 0, () => 'the shore holds them all');
  await stop(shore);
  t.true(changeByteIn(d.b, 'note-03', 2, 'X') >= 1);

  shore = await side(t, B);
  await until(() => shore.delivered.length >= 11, () => `shore handed over ${shore.delivered.length} of 11`);
  await until(() => ship.delivered.length >= 1, () => 'the bounce reached the ship');
  t.deepEqual(shore.delivered.map((el) => el.toString()).sort(), sent.filter((el) => el.attr('id') !== 'm3').map((el) => el.toString()).sort());
  const bounce = ship.delivered[0];
  t.deepEqual([bounce.attr('id'), bounce.attr('type'), bounce.attr('to'), bounce.attr('from')], ['m3', 'error', 'alice@a.example/r', 'bob@b.example']);
  t.is(StanzaError.fromStanza(bounce)?.condition, 'internal-server-error');
  t.is(shore.spool.stats('ship').inboundCount, 0);
});

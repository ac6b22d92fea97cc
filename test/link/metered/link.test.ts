/**
 * Metered bearers on real constrained links: two ends over UDP on loopback,
 * real spools and spend files, the ship's end metered (its wall clock for the
 * UTC day is the test's). Presence and disco wait on the metered bearer and
 * cross once the bearer is not metered, once each (presence coalesced as it
 * waited); a spent budget bounces non-urgent stanzas with resource-constraint
 * and an audit line while urgent ones cross, also after a restart; a held
 * presence is bounced at its hold time (simulated time).
 */
import test from 'ava';
import { Writable } from 'node:stream';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { ConstrainedLink } from '../../../src/link/constrained/index.ts';
import { transportDriver } from '../../../src/link/drivers/index.ts';
import { Metering, type MeteredSettings } from '../../../src/link/metered/index.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { urgentMatcher } from '../../../src/policy/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { parseXml } from '../../../src/xml/index.ts';
import type { XmlElement } from '../../../src/xml/element.ts';
import type { StanzaError } from '../../../src/xmpp/errors.ts';
import { freeUdpPort } from '../../helpers/ports.ts';
import { until } from '../../helpers/until.ts';

const KEY = createHash('sha256').update('metered-link').digest();
const TUNING = { mtu: 1200, rateBps: 2_000_000, rttEstimateMs: 20, rtoMinMs: 60, rtoMaxMs: 2000, ackDelayMs: 5, keepaliveS: 1, compressionLevel: 6 };
const NOON = Date.UTC(2026, 11, 3, 12, 0, 0);
const URGENT = urgentMatcher({ from: ['captain@a.example'], message_types: [], shim_urgency: ['high'] });

interface End {
  link: ConstrainedLink;
  spool: Spool;
  metrics: Metrics;
  metering?: Metering;
  logs: Array<Record<string, unknown>>;
  got: XmlElement[];
  bounced: Array<{ el: XmlElement; err: StanzaError }>;
}

async function startEnd(dir: string, side: 'ship' | 'shore', port: number, peer: number, metered?: MeteredSettings, opts: { clock?: ManualClock; heldTimeoutMs?: number } = {}): Promise<End> {
  const spool = Spool.open(join(dir, side, 'spool'), { maxBytes: 1 << 24, maxStanzas: 10_000 });
  const metrics = new Metrics();
  const logs: End['logs'] = [];
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } });
  const logger = pino({ level: 'info' }, sink);
  const queue = () => new OutboundQueue({ coalescePresence: true, fanout: true });
  const name = side === 'ship' ? 'shore' : 'ship';
  const metering = metered
    ? new Metering({ link: name, bearer: 'bgan-64k', settings: metered, isUrgent: URGENT, frameOverheadBytes: 28, stateFile: join(dir, side, 'link-state', `${name}.metered.json`), wall: () => opts.clock?.wall() ?? NOON, metrics, logger })
    : undefined;
  const link = new ConstrainedLink({
    name,
    domains: [side === 'ship' ? 'b.example' : 'a.example'],
    localDomains: [side === 'ship' ? 'a.example' : 'b.example'],
    scheduler: metering ? metering.scheduler(queue) : queue(),
    metering,
    driver: transportDriver({ kind: 'udp', bind: `127.0.0.1:${port}`, peer: `127.0.0.1:${peer}` }),
    tuning: TUNING,
    key: KEY,
    spool,
    heldTimeoutMs: opts.heldTimeoutMs ?? 600_000,
    maxStanzaBytes: 65_536,
    clock: opts.clock,
    logger,
    metrics,
  });
  const e: End = { link, spool, metrics, metering, logs, got: [], bounced: [] };
  await link.start({ deliver: (el) => void e.got.push(el), undeliverable: (el, err) => void e.bounced.push({ el, err }) });
  return e;
}

async function stopEnd(e: End): Promise<void> {
  await e.link.stop();
  await e.spool.close();
}

async function pair(t: import('ava').ExecutionContext, metered: MeteredSettings) {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-metered-'));
  const ends: End[] = [];
  t.teardown(async () => {
    for (const e of ends) await stopEnd(e).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const [shipPort, shorePort] = [await freeUdpPort(), await freeUdpPort()];
  const shore = await startEnd(dir, 'shore', shorePort, shipPort);
  ends.push(shore);
  const ship = await startEnd(dir, 'ship', shipPort, shorePort, metered);
  ends.push(ship);
  const restartShip = async () => {
    await stopEnd(ship);
    ends.splice(ends.indexOf(ship), 1);
    const again = await startEnd(dir, 'ship', shipPort, shorePort, metered);
    ends.push(again);
    return again;
  };
  return { dir, ship, shore, restartShip };
}

const msg = (id: string, from = 'alice@a.example/r', body = id) => parseXml(`<message xmlns='jabber:server' from='${from}' to='bob@b.example' type='chat' id='${id}'><body>${body}</body></message>`);
const pres = (show: string) => parseXml(`<presence xmlns='jabber:server' from='alice@a.example/r' to='bob@b.example'><show>${show}</show></presence>`);
const disco = (id: string) => parseXml(`<iq xmlns='jabber:server' type='get' from='alice@a.example/r' to='b.example' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
const ids = (els: XmlElement[]) => els.map((el) => el.attr('id') ?? `${el.local}:${el.getChildText('show')}`);

test.serial('presence and disco wait on the metered bearer while messages cross; once the bearer is not metered they cross once, presence coalesced', async (t) => {
  t.timeout(30_000);
  const { ship, shore } = await pair(t, { cost_per_mb: 7.5, daily_budget_mb: 50, carry: ['messages', 'iq'], currency: 'USD' });
  await ship.link.send(pres('away'));
  await ship.link.send(msg('m1'));
  await ship.link.send(disco('d1'));
  await ship.link.send(pres('xa'));
  await ship.link.send(msg('m2'));
  await until(() => shore.got.length >= 2, 'both messages across');
  t.deepEqual(ids(shore.got), ['m1', 'm2']);
  const st = ship.link.status();
  t.is(st.metered?.held, 2, 'the presence (coalesced) and the disco query wait');
  t.true((st.metered?.bytesToday ?? 0) > 0, 'the messages\' bytes counted on the metered bearer');
  // Acks of the delivered messages and of the superseded presence commit on their own.
  await until(() => ship.spool.pending('shore').length === 2, 'what waits is in the spool, and only that');
  t.is(ship.metrics.get('metered_held_total', { link: 'shore', class: 'presence' }), 2);
  t.is(ship.metrics.get('metered_held_total', { link: 'shore', class: 'disco' }), 1);
  ship.metering!.setBearer('vsat-1m', null);
  await until(() => shore.got.length >= 4, 'the held stanzas across once the bearer is not metered');
  await until(() => ship.spool.pending('shore').length === 0, 'ship spool drained');
  t.deepEqual(ids(shore.got), ['m1', 'm2', 'd1', 'presence:xa'], 'disco, then only the last presence state');
  t.is(ship.link.status().metered?.held, 0);
  t.is(ship.bounced.length, 0);
  t.true(ship.metrics.get('metered_bytes_total', { link: 'shore', bearer: 'bgan-64k' }) > 0, 'bytes on the metered bearer were counted');
  t.false(ship.link.status().metered?.metered, 'status shows the bearer in use');
});

test.serial('a spent budget bounces with resource-constraint and an audit line; urgent stanzas still cross; the spend survives a restart', async (t) => {
  t.timeout(40_000);
  // 3000 bytes a day: one incompressible 4 KB message spends it.
  const { ship, shore, dir, restartShip } = await pair(t, { cost_per_mb: 7.5, daily_budget_mb: 0.003, carry: ['messages', 'iq'], currency: 'USD' });
  await ship.link.send(msg('big', undefined, randomBytes(2048).toString('hex')));
  await until(() => shore.got.length === 1, 'the first message across');
  await until(() => ship.link.status().metered?.spent === true, 'budget spent');
  const st = ship.link.status().metered!;
  t.true(st.bytesToday >= 3000);
  t.is(st.remainingBytes, 0);
  t.true(st.costToday > 0.02, `cost so far ${st.costToday}`);

  await ship.link.send(msg('late'));
  await until(() => ship.bounced.length === 1, 'the non-urgent message bounced');
  t.is(ship.bounced[0].el.attr('id'), 'late');
  t.is(ship.bounced[0].err.condition, 'resource-constraint');
  const audit = ship.logs.find((l) => l.audit === true && l.reason === 'metered_budget_spent');
  t.truthy(audit, 'an audit line');
  t.like(audit, { link: 'shore', bearer: 'bgan-64k', id: 'late', from: 'alice@a.example/r', to: 'bob@b.example', kind: 'message' });
  t.is(ship.metrics.get('metered_refused_total', { link: 'shore', bearer: 'bgan-64k' }), 1);
  t.is(ship.metrics.get('link_refused_total', { link: 'shore', reason: 'metered_budget' }), 1);
  t.true(ship.logs.some((l) => l.level === 40 && /daily budget .* is spent/.test(String(l.msg))), 'a warning when the budget ran out');

  await ship.link.send(msg('urgent1', 'captain@a.example/bridge'));
  await until(() => shore.got.length === 2, 'the urgent message across');
  t.deepEqual(ids(shore.got), ['big', 'urgent1']);
  await until(() => ship.spool.pending('shore').length === 0, 'refused and delivered stanzas left the spool');
  t.is(ship.metrics.get('metered_urgent_total', { link: 'shore', bearer: 'bgan-64k' }), 1);

  // Restart within the same UTC day: the spend is read back, the budget stays spent.
  const before = ship.link.status().metered!.bytesToday;
  const again = await restartShip();
  const file = join(dir, 'ship', 'link-state', 'shore.metered.json');
  t.true(existsSync(file));
  t.is(JSON.parse(readFileSync(file, 'utf8')).day, '2026-12-03');
  const after = again.link.status().metered!;
  t.true(after.bytesToday >= before, `${after.bytesToday} >= ${before} after the restart`);
  t.true(after.spent);
  await again.link.send(msg('late2'));
  await until(() => again.bounced.length === 1, 'refused after the restart too');
  t.is(again.bounced[0].err.condition, 'resource-constraint');
  await again.link.send(msg('urgent2', 'captain@a.example/bridge'));
  await until(() => shore.got.length === 3, 'the urgent message across after the restart');
  t.deepEqual(ids(shore.got), ['big', 'urgent1', 'urgent2'], 'each delivered once, nothing refused crossed');
});

test.serial('a presence held for a better bearer is bounced with remote-server-timeout at its hold time and leaves the spool', async (t) => {
  t.timeout(15_000);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-metered-hold-'));
  const clock = new ManualClock(NOON);
  // Nobody at the peer address: only the hold time matters here.
  const e = await startEnd(dir, 'ship', await freeUdpPort(), await freeUdpPort(), { cost_per_mb: 1, daily_budget_mb: 10, carry: ['messages', 'iq'], currency: '' }, { clock, heldTimeoutMs: 3000 });
  t.teardown(async () => {
    await stopEnd(e).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await e.link.send(pres('away'));
  t.is(e.link.status().metered?.held, 1);
  for (let ms = 0; ms < 4900; ms += 100) {
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  t.is(e.bounced.length, 0, 'held, not yet expired at the first expiry tick after less than its hold time');
  clock.advance(100);
  t.is(e.bounced.length, 1);
  t.is(e.bounced[0].el.local, 'presence');
  t.is(e.bounced[0].err.condition, 'remote-server-timeout');
  await until(() => e.spool.pending('shore').length === 0, 'the bounced presence left the spool');
  t.is(e.link.status().metered?.held, 0);
});

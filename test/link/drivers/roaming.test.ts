/**
 * A udp link end without peer (the shore) over real sockets and real link
 * cores: it learns the ship's address from the first authentic frame and
 * follows it to a new port; garbage, a replayed authentic frame and a forged
 * one from a new address are dropped, counted and never move it.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { LinkEndpoint } from '../../../src/link/core/index.ts';
import { UdpLinkDriver } from '../../../src/link/drivers/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { DEFAULT_TUNING } from '../core/pair.ts';
import { until } from '../../helpers/until.ts';

const key = randomBytes(32);

function end(role: 'a' | 'b') {
  const metrics = new Metrics();
  const ep = new LinkEndpoint({
    tuning: { ...DEFAULT_TUNING, rttEstimateMs: 20, rtoMinMs: 100 }, key, role, random: randomBytes,
    localDomains: role === 'a' ? ['a.example'] : ['b.example'], remoteDomains: role === 'a' ? ['b.example'] : ['a.example'],
  }, performance.now());
  const got: string[] = [];
  const hooks = { onEvents: () => { for (let ev = ep.pollEvent(); ev; ev = ep.pollEvent()) if (ev.type === 'deliver') { got.push(ev.stanza.toString()); ep.confirmDelivered(ev.id, performance.now()); } } };
  return { ep, metrics, got, hooks };
}

const msg = (to: string, body: string) => Buffer.from(`<message to="x@${to}" from="y@${to === 'b.example' ? 'a.example' : 'b.example'}/r"><body>${body}</body></message>`);
const send = (s: dgram.Socket, b: Buffer, port: number) => new Promise<void>((r) => s.send(b, port, '127.0.0.1', () => r()));

test('the shore learns the ship from its first authentic frame, refuses forged and replayed ones from elsewhere, and follows the ship to a new port', async (t) => {
  const shore = end('b');
  const ship = end('a');
  const sd = new UdpLinkDriver(shore.ep, { bind: '127.0.0.1:0', metrics: shore.metrics, name: 'link' }, shore.hooks);
  await sd.start();
  t.teardown(() => sd.close());
  t.is(sd.peerAddress(), undefined);
  t.truthy(sd.failing(), 'status says it waits for the partner');

  // Record what the ship sends: authentic frames to replay from a stranger.
  const captured: Buffer[] = [];
  const poll = ship.ep.pollTransmit.bind(ship.ep);
  ship.ep.pollTransmit = (now: number) => { const f = poll(now); if (f) captured.push(Buffer.from(f)); return f; };
  const d1 = new UdpLinkDriver(ship.ep, { bind: '127.0.0.1:0', peer: sd.address(), metrics: ship.metrics, name: 'link' }, ship.hooks);
  await d1.start();
  ship.ep.submit(1n, msg('b.example', 'one'), 'high', performance.now());
  d1.poke();
  await until(() => shore.got.length === 1, 'the first stanza at the shore');
  t.deepEqual(sd.peerAddress(), d1.address());
  t.is(sd.failing(), undefined);

  // A stranger on another port: garbage, a replay of an authentic frame, a forged (tampered) one.
  const stranger = dgram.createSocket('udp4');
  t.teardown(() => stranger.close());
  await new Promise<void>((r) => stranger.bind(0, '127.0.0.1', () => r()));
  const forged = Buffer.from(captured[0]);
  forged[forged.length - 1] ^= 1;
  for (const b of [Buffer.from('hello?'), captured[0], forged]) await send(stranger, b, sd.address().port);
  await until(() => sd.roaming!.stats.refused === 3, 'three datagrams refused');
  t.deepEqual(sd.peerAddress(), d1.address(), 'the stranger did not move the shore');
  t.is(sd.roaming!.stats.moves, 0);
  t.is(shore.metrics.get('link_peer_address_refused_total', { link: 'link' }), 3);

  // The shore still answers the ship, not the stranger.
  shore.ep.submit(1n, msg('a.example', 'answer'), 'high', performance.now());
  sd.poke();
  await until(() => ship.got.length === 1, 'the answer at the ship');

  // The ship's NAT gives it a new port: same core, a new socket.
  await d1.close();
  const d2 = new UdpLinkDriver(ship.ep, { bind: '127.0.0.1:0', peer: sd.address(), metrics: ship.metrics, name: 'link' }, ship.hooks);
  await d2.start();
  t.teardown(() => d2.close());
  ship.ep.submit(2n, msg('b.example', 'two'), 'high', performance.now());
  d2.poke();
  await until(() => shore.got.length === 2, 'the second stanza at the shore');
  t.deepEqual(sd.peerAddress(), d2.address(), 'the shore followed the ship');
  t.is(sd.roaming!.stats.moves, 1);
  t.is(shore.metrics.get('link_peer_address_changes_total', { link: 'link', kind: 'moved' }), 1);
  shore.ep.submit(2n, msg('a.example', 'answer 2'), 'high', performance.now());
  sd.poke();
  await until(() => ship.got.length === 2, 'the second answer at the ship');
  t.deepEqual(shore.got.map((s) => /<body>(.*)<\/body>/.exec(s)![1]), ['one', 'two']);
  t.deepEqual(ship.got.map((s) => /<body>(.*)<\/body>/.exec(s)![1]), ['answer', 'answer 2']);
});

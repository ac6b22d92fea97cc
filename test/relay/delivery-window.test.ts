/**
 * The delivery window on the wire: a durable link's inbox (real spool) hands
 * stanzas to local delivery with local.delivery_window 3, which writes them
 * over real sockets to a local server that acknowledges (XEP-0198) only what
 * it has handled. Three are written before the first ack, never a fourth;
 * a cumulative <a h/> releases exactly the spool records it covers; when the
 * stream breaks, the unacknowledged ones go again, in order, on the next
 * stream, before anything new.
 */
import test from 'ava';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { service } from '../s2s/_util.ts';
import { until } from '../helpers/until.ts';
import { Inbox } from '../../src/link/constrained/inbox.ts';
import { Spool } from '../../src/spool/index.ts';
import { LocalDelivery } from '../../src/relay/local-delivery.ts';
import { ManualClock } from '../../src/time/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { silentLogger } from '../../src/obs/log.ts';
import type { XmlElement } from '../../src/xml/element.ts';

const m = (i: number): string => `<message xmlns="jabber:server" from="bob@b.example/r" to="alice@a.example" id="m${i}"><body>${i}</body></message>`;

/** A TCP proxy whose connections the test can cut. */
async function cuttableProxy(targetPort: number): Promise<{ port: number; cut(): void; close(): void }> {
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((a) => {
    const b = connect({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [a, b];
    pairs.add(pair);
    a.pipe(b);
    b.pipe(a);
    const end = (): void => {
      a.destroy();
      b.destroy();
      pairs.delete(pair);
    };
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const cut = (): void => {
    for (const [a, b] of [...pairs]) {
      a.destroy();
      b.destroy();
    }
  };
  return {
    port: (server.address() as { port: number }).port,
    cut,
    close: () => {
      cut();
      server.close();
    },
  };
}

test('delivery window 3 over a real S2S stream: three in flight before the ack, acks release their spool records, a broken stream resends in order', async (t) => {
  // Y: the local server of a.example, offering XEP-0198; it acknowledges a stanza once the test lets it handle it.
  let hold = true;
  const held: Array<() => void> = [];
  const arrived: string[] = [];
  const Y = await service(t, {
    local: ['b.example'],
    served: ['a.example'],
    tls: 'off',
    onStanza: (el) => {
      arrived.push(el.attr('id')!);
      return hold ? new Promise<void>((r) => void held.push(r)) : undefined;
    },
  });
  t.teardown(() => held.forEach((r) => r()));
  const proxy = await cuttableProxy(Y.port);
  t.teardown(() => proxy.close());
  // X: the relay's S2S side, serving b.example to the local server of a.example behind the proxy.
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  X.routes['a.example'] = `127.0.0.1:${proxy.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;

  const clock = new ManualClock();
  const written: string[] = [];
  let retries = 0;
  const local = new LocalDelivery({
    send: (el: XmlElement) => {
      written.push(el.attr('id')!);
      return X.svc.send(el);
    },
    holdMs: 60_000,
    clock,
    metrics: new Metrics(),
    log: silentLogger,
    failed: () => void retries++,
    window: 3,
  });
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-window-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  const inbox = new Inbox({ name: 'ship', spool, clock, maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  inbox.start({ confirm: () => undefined, deliver: (el) => local.inOrder('ship', el, () => local.deliver(el, 'ship')) });
  const pending = (): string => spool.inboundPending('ship').map((e) => String(e.id)).join(',');

  for (let i = 1; i <= 6; i++) inbox.delivered(BigInt(i), Buffer.from(m(i)));
  await until(() => arrived.length === 3, 'three stanzas at the local server');
  t.deepEqual(written, ['m1', 'm2', 'm3'], 'three written before any ack, not a fourth');
  t.is(pending(), '1,2,3,4,5,6', 'nothing leaves the spool before an ack');

  // The server handles m1 and m2: <a h='2'/> releases their records, and two more go.
  held.splice(0, 2).forEach((r) => r());
  await until(() => pending() === '3,4,5,6' && arrived.length === 5, 'm1 and m2 released, m4 and m5 at the server');
  t.deepEqual(written, ['m1', 'm2', 'm3', 'm4', 'm5']);

  // The stream breaks with m3..m5 received but unacknowledged: they come back, wait the back-off, and go again in order.
  hold = false;
  proxy.cut();
  await until(() => retries === 3, 'the three unacknowledged stanzas back for a retry');
  t.deepEqual(written, ['m1', 'm2', 'm3', 'm4', 'm5'], 'nothing new meanwhile');
  clock.advance(1000);
  await until(() => pending() === '', 'everything acknowledged and released');
  t.deepEqual(written.slice(5), ['m3', 'm4', 'm5', 'm6']);
  t.is(arrived.join(','), 'm1,m2,m3,m4,m5,m3,m4,m5,m6', 'the next stream carries m3..m5 again in order, then m6');
  await inbox.stop();
});

test('a written stanza keeps its place in the window until its spool record is released: a crash can deliver at most the window again', async (t) => {
  const arrived: string[] = [];
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off', onStanza: (el) => void arrived.push(el.attr('id')!) });
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  const clock = new ManualClock();
  const written: string[] = [];
  const local = new LocalDelivery({
    send: (el: XmlElement) => {
      written.push(el.attr('id')!);
      return X.svc.send(el);
    },
    holdMs: 60_000, clock, metrics: new Metrics(), log: silentLogger, failed: () => undefined, window: 2,
  });
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-window-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  // The spool's release of a handed-over message waits for the test (a slow disk).
  let gate = false;
  const waiting: Array<() => void> = [];
  const slow = {
    receive: spool.receive.bind(spool),
    advanceDeliveredUpTo: spool.advanceDeliveredUpTo.bind(spool),
    inboundPending: spool.inboundPending.bind(spool),
    keepInbound: spool.keepInbound.bind(spool),
    handedOver: async (link: string, id: bigint) => {
      if (!gate) await new Promise<void>((r) => void waiting.push(r));
      return spool.handedOver(link, id);
    },
  };
  const inbox = new Inbox({ name: 'ship', spool: slow, clock, maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  inbox.start({ confirm: () => undefined, deliver: (el, released) => local.inOrder('ship', el, () => local.deliver(el, 'ship'), released) });
  const pending = (): string => spool.inboundPending('ship').map((e) => String(e.id)).join(',');

  for (let i = 1; i <= 5; i++) inbox.delivered(BigInt(i), Buffer.from(m(i)));
  await until(() => arrived.length === 2 && waiting.length === 2, 'm1 and m2 acknowledged, their release under way');
  await new Promise((r) => setTimeout(r, 50)); // a wrong window would write m3 now
  t.deepEqual(written, ['m1', 'm2'], 'acknowledged but still in the spool: no third is written');
  t.is(pending(), '1,2,3,4,5');

  waiting.splice(0, 1).forEach((r) => r()); // m1's record goes: one place opens
  await until(() => arrived.length === 3 && waiting.length === 2, 'm3 written once m1 is released');
  t.deepEqual(written, ['m1', 'm2', 'm3']);
  t.is(pending(), '2,3,4,5');

  gate = true;
  waiting.splice(0).forEach((r) => r());
  await until(() => pending() === '' && arrived.length === 5, 'the rest written and released');
  t.deepEqual(arrived, ['m1', 'm2', 'm3', 'm4', 'm5'], 'each once, in order');
  await inbox.stop();
});

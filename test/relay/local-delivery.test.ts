/**
 * Local delivery (relay/local-delivery.ts) on simulated time: order per
 * destination domain, retries with back-off up to the hold time, and what
 * stop does to a waiting retry.
 */
import test from 'ava';
import { LocalDelivery } from '../../src/relay/local-delivery.ts';
import { RelayStoppingError } from '../../src/relay/router.ts';
import { ManualClock } from '../../src/time/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { silentLogger } from '../../src/obs/log.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { x, type XmlElement } from '../../src/xml/element.ts';

const msg = (id: string, to = 'bob@b.example'): XmlElement => x('message', { from: 'alice@a.example/r', to, id }, x('body', {}, id));
/** Lets settled promises run their callbacks. */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(send: (el: XmlElement) => Promise<void>, holdMs = 10_000, window?: number) {
  const clock = new ManualClock();
  const metrics = new Metrics();
  const errors: string[] = [];
  const local = new LocalDelivery({ send, holdMs, clock, metrics, log: silentLogger, failed: (m) => void errors.push(m), window });
  return { clock, metrics, errors, local };
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

test('window 1: stanzas for one local domain go one at a time in arrival order, whatever the outcome; another domain or link does not wait', async (t) => {
  const { local } = setup(() => Promise.resolve(), 10_000, 1);
  const started: string[] = [];
  const gates = new Map<string, ReturnType<typeof deferred>>();
  const route = (el: XmlElement) => () => {
    started.push(el.attr('id')!);
    const d = deferred();
    gates.set(el.attr('id')!, d);
    return d.promise;
  };
  const els = [msg('b1'), msg('b2'), msg('c1', 'carol@c.example'), msg('b3')];
  const done = els.map((el) => local.inOrder('ship', el, route(el)));
  // Another link's stanzas for the same domain do not wait for these.
  const other = local.inOrder('ship-2', msg('s2'), route(msg('s2')));
  await turn();
  t.deepEqual(started, ['b1', 'c1', 's2'], 'the second stanza for b.example waits for the first');
  gates.get('b1')!.reject(new Error('local server away'));
  await t.throwsAsync(done[0], { message: 'local server away' });
  await turn();
  t.deepEqual(started, ['b1', 'c1', 's2', 'b2'], 'a failure does not stop the ones behind it');
  gates.get('b2')!.resolve();
  await turn();
  t.deepEqual(started, ['b1', 'c1', 's2', 'b2', 'b3']);
  gates.get('b3')!.resolve();
  gates.get('c1')!.resolve();
  gates.get('s2')!.resolve();
  await Promise.all([...done.slice(1), other]);
});

test('a local server that cannot be reached: tried again after 1, 2 and 4 s, then the error goes back within the hold time', async (t) => {
  const attempts: number[] = [];
  const { clock, metrics, errors, local } = setup(() => {
    attempts.push(clock.now());
    return Promise.reject(new StanzaError('remote-server-not-found', 'no route'));
  });
  let failure: unknown;
  const p = local.deliver(msg('m1')).catch((err: unknown) => void (failure = err));
  for (let i = 0; i < 12; i++) {
    await turn();
    clock.advance(1000);
  }
  await p;
  // 0, 1, 3, 7 s; the next try (at 15 s) would be past the 10 s hold time.
  t.deepEqual(attempts, [0, 1000, 3000, 7000]);
  t.true(failure instanceof StanzaError && failure.condition === 'remote-server-not-found');
  t.is(metrics.get('local_delivery_retries_total', { condition: 'remote-server-not-found' }), 3);
  t.is(errors.at(-1), 'local delivery to bob@b.example: remote-server-not-found');
});

test('a refusal that waiting cannot mend goes back at once', async (t) => {
  let n = 0;
  const { local } = setup(() => {
    n++;
    return Promise.reject(new StanzaError('service-unavailable', 'no such user'));
  });
  await t.throwsAsync(local.deliver(msg('m1')), { instanceOf: StanzaError });
  t.is(n, 1);
});

test('stop: a waiting retry gives up at once (the durable link keeps the stanza); a first attempt after stop still goes', async (t) => {
  let fail = true;
  const sent: string[] = [];
  const { clock, local } = setup((el) => {
    sent.push(el.attr('id')!);
    return fail ? Promise.reject(new StanzaError('remote-server-timeout')) : Promise.resolve();
  });
  const p = local.deliver(msg('m1'));
  await turn();
  t.is(clock.pending, 1, 'a retry waits on the clock');
  local.stop();
  await t.throwsAsync(p, { instanceOf: RelayStoppingError });
  t.is(clock.pending, 0, 'its timer is cancelled');
  fail = false;
  await local.deliver(msg('bounce'));
  t.deepEqual(sent, ['m1', 'bounce']);
});

test('settle waits for deliveries under way, at most the time given', async (t) => {
  const gate = deferred();
  const { clock, local } = setup(() => gate.promise);
  const stuck = local.deliver(msg('m1'));
  let settled = false;
  const s = local.settle(5000).then(() => void (settled = true));
  await turn();
  clock.advance(4999);
  await turn();
  t.false(settled);
  clock.advance(1);
  await s;
  t.true(settled);
  gate.resolve();
  await stuck;
  // Nothing under way: returns at once.
  await local.settle(5000);
});

/** A local server whose XEP-0198 acknowledgements the test gives: send() resolves when acked, rejects when the stream breaks. */
function ackedServer() {
  const written: string[] = [];
  const unacked: Array<{ id: string; d: ReturnType<typeof deferred> }> = [];
  let most = 0;
  const send = (el: XmlElement): Promise<void> => {
    const d = deferred();
    written.push(el.attr('id')!);
    unacked.push({ id: el.attr('id')!, d });
    most = Math.max(most, unacked.length);
    return d.promise;
  };
  return {
    send,
    written,
    get inFlight() {
      return unacked.length;
    },
    get most() {
      return most;
    },
    /** <a h/> covering the n oldest. */
    ack(n: number): void {
      for (const u of unacked.splice(0, n)) u.d.resolve();
    },
    /** One stanza's stream breaks. */
    fail(id: string): void {
      const i = unacked.findIndex((u) => u.id === id);
      unacked.splice(i, 1)[0].d.reject(new StanzaError('remote-server-not-found', 'stream closed by peer'));
    },
    /** The stream breaks: every unacknowledged stanza comes back (s2s/outbound.ts closing). */
    cut(): void {
      for (const u of unacked.splice(0)) u.d.reject(new StanzaError('remote-server-not-found', 'stream closed by peer'));
    },
  };
}

/** n stanzas from link "ship" to b.example through inOrder, each delivered in its lane as the relay does. */
function burst(local: LocalDelivery, n: number, from = 1): Array<Promise<void>> {
  return Array.from({ length: n }, (_, i) => {
    const el = msg(`m${from + i}`);
    return local.inOrder('ship', el, () => local.deliver(el, 'ship'));
  });
}

const ids = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

test('delivery window 4: four stanzas are written before the first ack, never a fifth; each cumulative ack lets as many follow, in order', async (t) => {
  const server = ackedServer();
  const local = new LocalDelivery({ send: server.send, holdMs: 10_000, clock: new ManualClock(), metrics: new Metrics(), log: silentLogger, failed: () => undefined, window: 4 });
  const done = burst(local, 10);
  await turn();
  t.deepEqual(server.written, ids(1, 4), 'four in flight before any ack');
  server.ack(1);
  await turn();
  t.deepEqual(server.written, ids(1, 5), 'an ack for one lets one more go');
  server.ack(3); // <a h='4'/>: m2..m4 at once
  await turn();
  t.deepEqual(server.written, ids(1, 8));
  t.is(server.inFlight, 4);
  server.ack(4);
  await turn();
  server.ack(2);
  await Promise.all(done);
  t.deepEqual(server.written, ids(1, 10), 'each written once, in arrival order');
  t.is(server.most, 4, 'never more than the window unacknowledged');
});

test('delivery window 32, a burst of 5000 in one lane: each written once, in arrival order, never more than 32 unacknowledged', async (t) => {
  const server = ackedServer();
  const local = new LocalDelivery({ send: server.send, holdMs: 10_000, clock: new ManualClock(), metrics: new Metrics(), log: silentLogger, failed: () => undefined, window: 32 });
  const done = burst(local, 5000);
  while (server.written.length < 5000 || server.inFlight > 0) {
    await turn();
    server.ack(server.inFlight); // one <a h/> per burst the server has
  }
  await Promise.all(done);
  t.deepEqual(server.written, ids(1, 5000));
  t.is(server.most, 32);
});

test('delivery window 3, broken stream: the unacknowledged stanzas are written again in their order after the back-off, before any new one', async (t) => {
  const server = ackedServer();
  const clock = new ManualClock();
  const metrics = new Metrics();
  const local = new LocalDelivery({ send: server.send, holdMs: 60_000, clock, metrics, log: silentLogger, failed: () => undefined, window: 3 });
  const done = burst(local, 6);
  await turn();
  server.ack(1); // m1 confirmed; m2..m4 in flight
  await turn();
  t.deepEqual(server.written, ids(1, 4));
  server.cut();
  await turn();
  clock.advance(999);
  await turn();
  t.deepEqual(server.written, ids(1, 4), 'nothing new while m2..m4 wait for their retry');
  clock.advance(1);
  await turn();
  t.deepEqual(server.written.slice(4), ['m2', 'm3', 'm4'], 'written again on the next stream, in order');
  t.is(metrics.get('local_delivery_retries_total', { condition: 'remote-server-not-found' }), 3);
  server.ack(3);
  await turn();
  server.ack(2);
  await turn();
  t.deepEqual(server.written.slice(7), ['m5', 'm6']);
  server.ack(2);
  await Promise.all(done);
});

test('delivery window: a stanza whose retry waits longer holds the later ones of its lane behind it', async (t) => {
  const server = ackedServer();
  const clock = new ManualClock();
  const local = new LocalDelivery({ send: server.send, holdMs: 60_000, clock, metrics: new Metrics(), log: silentLogger, failed: () => undefined, window: 2 });
  const done = burst(local, 3);
  await turn();
  t.deepEqual(server.written, ['m1', 'm2']);
  // m1 and m2 went on two streams (two sender domains) that fail at different times.
  server.fail('m1'); // again at 1 s
  await turn();
  clock.advance(500);
  server.fail('m2'); // again at 1.5 s
  await turn();
  clock.advance(500);
  await turn();
  t.deepEqual(server.written, ['m1', 'm2', 'm1']);
  clock.advance(200);
  server.fail('m1'); // its second failure: again at 3.2 s
  await turn();
  clock.advance(300);
  await turn();
  t.deepEqual(server.written, ['m1', 'm2', 'm1'], 'm2, due at 1.5 s, waits for m1');
  clock.advance(1700);
  await turn();
  t.deepEqual(server.written.slice(3), ['m1', 'm2'], 'then both, in order');
  server.ack(2);
  await turn();
  t.deepEqual(server.written.slice(5), ['m3']);
  server.ack(1);
  await Promise.all(done);
});

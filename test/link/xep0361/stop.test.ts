/**
 * Stopping an xep0361 link loses nothing and bounces nothing the partner has:
 * stanzas the partner took inside its ack delay are confirmed (XEP-0198 <r/>)
 * instead of bounced; a stanza from the partner that cannot be delivered
 * locally because the relay stops goes back to its sender as an error; what
 * never crossed is bounced to the local sender.
 */
import test from 'ava';
import { Xep0361Link } from '../../../src/link/xep0361/link.ts';
import { RelayStoppingError } from '../../../src/relay/router.ts';
import { XmlElement, x } from '../../../src/xml/element.ts';
import type { StanzaError } from '../../../src/xmpp/errors.ts';
import { Metrics } from '../../../src/obs/metrics.ts';

const msg = (i: number, from = 'alice@a.example/t', to = 'bob@b.example') => x('message', { xmlns: 'jabber:server', from, to, id: `m${i}`, type: 'chat' }, x('body', {}, `hello ${i}`));

async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

function recorder(deliver?: (el: XmlElement) => Promise<void> | void) {
  const got: XmlElement[] = [];
  const bounced: Array<{ el: XmlElement; err: StanzaError }> = [];
  return {
    got,
    bounced,
    handlers: {
      deliver: (el: XmlElement) => {
        got.push(el);
        return deliver?.(el);
      },
      undeliverable: (el: XmlElement, err: StanzaError) => void bounced.push({ el, err }),
    },
  };
}

test('stanzas the partner took inside its ack delay are confirmed at stop, not bounced', async (t) => {
  // The shore acks only after a minute (or 20 stanzas): without asking, the ship would think 3 stanzas lost.
  const shore = new Xep0361Link({ name: 'to-ship', domains: ['a.example'], bind: { host: '127.0.0.1', port: 0 }, ackDelayMs: 60_000 });
  const atShore = recorder();
  await shore.start(atShore.handlers);
  t.teardown(() => shore.stop());
  const metrics = new Metrics();
  const ship = new Xep0361Link({ name: 'to-shore', domains: ['b.example'], peer: shore.address!, metrics });
  const atShip = recorder();
  await ship.start(atShip.handlers);
  for (let i = 1; i <= 3; i++) await ship.send(msg(i));
  t.true(await until(() => atShore.got.length === 3), 'delivered at the shore');
  t.is(ship.status().inFlight, 3, 'not yet acknowledged');
  await ship.stop();
  t.deepEqual(atShip.bounced.map((b) => b.el.attr('id')), [], 'nothing delivered is bounced');
  t.is(atShore.got.length, 3);
});

test('what the partner never confirms is bounced at stop, with remote-server-timeout', async (t) => {
  const ship = new Xep0361Link({ name: 'to-shore', domains: ['b.example'], peer: { host: '127.0.0.1', port: 1 }, backoff: { minMs: 60_000, maxMs: 60_000 } });
  const atShip = recorder();
  await ship.start(atShip.handlers);
  await ship.send(msg(1));
  await ship.stop();
  t.deepEqual(atShip.bounced.map((b) => [b.el.attr('id'), b.err.condition]), [['m1', 'remote-server-timeout']]);
  await t.throwsAsync(ship.send(msg(2)), { message: /stopped/ }, 'a stopped link refuses new stanzas (the router bounces them)');
});

test('a stanza from the partner that cannot be delivered because the relay stops goes back to its sender', async (t) => {
  const ship = new Xep0361Link({ name: 'to-shore', domains: ['b.example'], bind: { host: '127.0.0.1', port: 0 } });
  const atShip = recorder();
  await ship.start(atShip.handlers);
  t.teardown(() => ship.stop());
  // The shore's local server is down: its delivery is still being retried when the shore stops.
  let fail: ((err: Error) => void) | undefined;
  const shore = new Xep0361Link({ name: 'to-ship', domains: ['a.example'], peer: ship.address! });
  const atShore = recorder(() => new Promise<void>((_, reject) => (fail = reject)));
  await shore.start(atShore.handlers);
  await ship.send(msg(7, 'alice@a.example/t', 'bob@b.example/lab'));
  t.true(await until(() => fail !== undefined), 'the shore is delivering it');
  const stopping = shore.stop();
  fail!(new RelayStoppingError());
  await stopping;
  t.true(await until(() => atShip.got.length === 1), 'an answer came back over the link');
  const err = atShip.got[0];
  t.is(err.attr('type'), 'error');
  t.is(err.attr('id'), 'm7');
  t.is(err.attr('to'), 'alice@a.example/t');
  t.truthy(err.getChild('error')?.getChild('remote-server-timeout', 'urn:ietf:params:xml:ns:xmpp-stanzas'), err.toString());
});

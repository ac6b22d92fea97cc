// The delivery ledger on its own (ledger.ts): each id delivered once, MSGACK only after the host
// stored it (confirmDelivered), duplicates acknowledged again, FLOOR, lost MSGACKs owed again at once.
import test from 'ava';
import { DeliveryLedger } from '../../../src/link/core/ledger.ts';
import { newCounters } from '../../../src/link/core/stats.ts';
import { silentCoreLogger } from '../../../src/link/core/log.ts';
import type { LinkEvent } from '../../../src/link/core/events.ts';
import type { LinkOptions } from '../../../src/link/core/options.ts';

const DELAY = 80;
const stanza = (id: bigint): Buffer => Buffer.from(`<message id="m${id}"/>`);

function setup(resume?: LinkOptions['resume']) {
  const events: LinkEvent[] = [];
  const c = newCounters();
  const l = new DeliveryLedger(resume, DELAY, c, silentCoreLogger, events);
  const delivered = (): bigint[] => events.flatMap((e) => (e.type === 'deliver' ? [e.id] : []));
  return { l, c, events, delivered };
}

test('a message is delivered once and acknowledged only after the host confirms it, after the MSGACK delay', (t) => {
  const { l, c, delivered } = setup();
  l.offer(100, 1n, stanza(1n), undefined);
  t.deepEqual(delivered(), [1n]);
  t.is(c.delivered, 1);
  t.false(l.hasMsgAcks(), 'not stored yet: no MSGACK');
  t.is(l.msgAckAt(), undefined);
  l.offer(150, 1n, stanza(1n), undefined);
  t.deepEqual(delivered(), [1n], 'a second copy is not delivered');
  t.is(c.duplicates, 1);
  t.false(l.hasMsgAcks(), 'nor acknowledged before the first is stored');
  l.confirm(120, 1n);
  t.is(l.msgAckAt(), 100 + DELAY, 'the wait for a frame to ride on counts from the delivery');
  t.deepEqual(l.takeMsgAcks(), [[1n, 1n]]);
  t.false(l.hasMsgAcks());
  t.is(l.msgAckAt(), undefined);
  l.confirm(210, 1n);
  t.false(l.hasMsgAcks(), 'confirming twice owes nothing more');
});

test('a copy that comes again after its MSGACK (the sender did not hear it) is acknowledged again, not delivered', (t) => {
  const { l, c, delivered } = setup();
  l.offer(0, 7n, stanza(7n), undefined);
  l.confirm(10, 7n);
  l.takeMsgAcks();
  l.offer(5000, 7n, stanza(7n), undefined);
  t.deepEqual(delivered(), [7n]);
  t.is(c.duplicates, 1);
  t.is(l.msgAckAt(), 5000 + DELAY);
  t.deepEqual(l.takeMsgAcks(), [[7n, 7n]]);
});

test('ids stored before a restart are not delivered again', (t) => {
  const { l, delivered } = setup({ nextSendId: 1n, deliveredUpTo: 10n, delivered: [12n] });
  for (const id of [5n, 10n, 11n, 12n, 13n]) l.offer(0, id, stanza(id), undefined);
  t.deepEqual(delivered(), [11n, 13n]);
  t.deepEqual(l.takeMsgAcks(), [[12n, 12n], [10n, 10n], [5n, 5n]], 'the stored ones are owed again at once, highest first');
});

test('a message over the size limit after inflate is refused, counted and acknowledged so the sender stops', (t) => {
  const { l, c, delivered } = setup();
  l.offer(0, 3n, undefined, undefined);
  t.deepEqual(delivered(), []);
  t.is(c.messagesDropped.too_big, 1);
  t.is(l.msgAckAt(), DELAY);
  t.deepEqual(l.takeMsgAcks(), [[3n, 3n]]);
});

test('the partner\'s FLOOR is announced once and forgives the MSGACKs below it', (t) => {
  const { l, events } = setup();
  for (const id of [1n, 2n, 3n, 8n]) { l.offer(0, id, stanza(id), undefined); l.confirm(0, id); }
  l.onPeerFloor(4n);
  l.onPeerFloor(2n);
  t.deepEqual(events.filter((e) => e.type === 'floor'), [{ type: 'floor', id: 4n }]);
  t.deepEqual(l.takeMsgAcks(), [[8n, 8n]]);
});

test('MSGACKs of a lost frame are owed again at once', (t) => {
  const { l } = setup();
  for (const id of [1n, 2n]) { l.offer(0, id, stanza(id), undefined); l.confirm(0, id); }
  const sent = l.takeMsgAcks();
  t.deepEqual(sent, [[1n, 2n]]);
  t.is(l.msgAckAt(), undefined);
  l.onMsgAcksLost(900, sent);
  t.is(l.msgAckAt(), 900, 'due now, not after the delay');
  t.deepEqual(l.takeMsgAcks(), [[1n, 2n]]);
});

test('a store that took longer than the MSGACK wait makes it due at once, never before the confirmation', (t) => {
  const { l } = setup();
  l.offer(1000, 4n, stanza(4n), undefined);
  t.is(l.msgAckAt(), undefined, 'nothing owed while the host stores it');
  l.confirm(1500, 4n);
  t.is(l.msgAckAt(), 1000 + DELAY, 'already due when confirmed');
  t.true(l.msgAckAt()! <= 1500);
});

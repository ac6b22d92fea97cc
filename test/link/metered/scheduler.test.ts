/**
 * The metered gate as a pure data structure: BearerMeter decisions per UTC
 * day, and MeteredScheduler over optimize's OutboundQueue (held classes wait
 * and coalesce, a spent budget refuses all but urgent stanzas). Wall time is
 * a number the test sets.
 */
import test from 'ava';
import { BearerMeter, MeteredScheduler, stanzaClass, type MeteredSettings } from '../../../src/link/metered/index.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { urgentMatcher } from '../../../src/policy/index.ts';
import { parseXml } from '../../../src/xml/index.ts';
import type { XmlElement } from '../../../src/xml/element.ts';
import type { ScheduledStanza } from '../../../src/link/port.ts';

const DAY1 = Date.UTC(2026, 11, 3, 10, 0, 0);
const DAY2 = Date.UTC(2026, 11, 4, 0, 0, 1);
const BGAN: MeteredSettings = { cost_per_mb: 7.5, daily_budget_mb: 0.01, carry: ['messages', 'iq'], currency: 'USD' };

let nextId = 1n;
const item = (el: XmlElement, at = DAY1): ScheduledStanza => ({ id: nextId++, el, bytes: el.toBuffer().length, priority: el.local === 'presence' ? 'low' : 'high', acceptedAt: at });
const msg = (id: string, from = 'alice@a.example/r', extra = '') => parseXml(`<message xmlns='jabber:server' from='${from}' to='bob@b.example' type='chat' id='${id}'><body>${id}</body>${extra}</message>`);
const pres = (from: string, show: string) => parseXml(`<presence xmlns='jabber:server' from='${from}' to='bob@b.example'><show>${show}</show></presence>`);
const disco = (id: string) => parseXml(`<iq xmlns='jabber:server' type='get' from='alice@a.example/r' to='b.example' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
const ping = (id: string) => parseXml(`<iq xmlns='jabber:server' type='get' from='alice@a.example/r' to='b.example' id='${id}'><ping xmlns='urn:xmpp:ping'/></iq>`);

function setup(settings: MeteredSettings | null, urgent = urgentMatcher({ from: ['captain@a.example'], message_types: [], shim_urgency: ['high'] })) {
  let now = DAY1;
  const meter = new BearerMeter();
  meter.setBearer('bgan-64k', settings, now);
  const refused: string[] = [];
  const s = new MeteredScheduler({
    make: () => new OutboundQueue({ coalescePresence: true, fanout: true }),
    meter,
    isUrgent: urgent,
    wall: () => now,
    onRefused: (el) => refused.push(el.attr('id') ?? el.local),
  });
  const drain = () => {
    const out: string[] = [];
    for (let t = s.take(); t; t = s.take()) out.push(t.el.attr('id') ?? `${t.el.local}:${t.el.getChildText('show')}`);
    return out;
  };
  return { meter, s, refused, drain, at: (t: number) => (now = t) };
}

test('stanza classes: disco is an iq of disco#info or #items, every other iq is iq', (t) => {
  t.is(stanzaClass(disco('d')), 'disco');
  t.is(stanzaClass(ping('p')), 'iq');
  t.is(stanzaClass(msg('m')), 'messages');
  t.is(stanzaClass(pres('a@a.example/x', 'away')), 'presence');
});

test('meter: hold what the bearer does not carry, refuse once the budget is spent unless urgent; a new UTC day starts again', (t) => {
  const m = new BearerMeter();
  m.setBearer('bgan-64k', BGAN, DAY1);
  t.is(m.decide('presence', false, DAY1), 'hold');
  t.is(m.decide('disco', true, DAY1), 'hold', 'urgency does not move a class the bearer does not carry');
  t.is(m.decide('messages', false, DAY1), 'send');
  m.sent('bgan-64k', 9_999, DAY1);
  t.false(m.spentNow(DAY1));
  m.sent('bgan-64k', 1, DAY1);
  t.true(m.spentNow(DAY1));
  t.is(m.decide('messages', false, DAY1), 'refuse');
  t.is(m.decide('iq', true, DAY1), 'send');
  const s = m.snapshot(DAY1);
  t.is(s.bytesToday, 10_000);
  t.is(s.remainingBytes, 0);
  t.is(Number(s.costToday.toFixed(3)), 0.075);
  t.is(m.decide('messages', false, DAY2), 'send', 'a new UTC day');
  t.is(m.snapshot(DAY2).bytesToday, 0);
  m.setBearer('vsat-1m', null, DAY2);
  t.is(m.decide('presence', false, DAY2), 'send', 'an unmetered bearer carries everything');
  m.sent('vsat-1m', 50_000, DAY2);
  t.is(m.snapshot(DAY2).bytesToday, 0, 'bytes on an unmetered bearer are not counted');
});

test('meter: the kept spend of the same UTC day is taken back, an older day\'s is not', (t) => {
  const a = new BearerMeter();
  a.setBearer('bgan-64k', BGAN, DAY1);
  a.sent('bgan-64k', 4_000, DAY1);
  const kept = a.spend(DAY1);
  const b = new BearerMeter();
  b.restore(kept, DAY1 + 3_600_000);
  b.setBearer('bgan-64k', BGAN, DAY1 + 3_600_000);
  t.is(b.snapshot(DAY1 + 3_600_000).bytesToday, 4_000);
  const c = new BearerMeter();
  c.restore(kept, DAY2);
  c.setBearer('bgan-64k', BGAN, DAY2);
  t.is(c.snapshot(DAY2).bytesToday, 0);
});

test('scheduler: on a metered bearer presence and disco wait (presence coalescing as it waits); messages and iq go in order', (t) => {
  const { s, drain, meter } = setup(BGAN);
  s.push(item(pres('alice@a.example/r', 'away')));
  s.push(item(msg('m1')));
  s.push(item(disco('d1')));
  const third = s.push(item(pres('alice@a.example/r', 'xa')));
  t.is(third.superseded.length, 1, 'the waiting presence was replaced by the newer one');
  s.push(item(ping('p1')));
  s.push(item(msg('m2')));
  t.deepEqual(drain(), ['m1', 'p1', 'm2']);
  t.is(s.length, 2, 'presence and disco still queued');
  t.is(s.held(), 2);
  meter.setBearer('vsat-1m', null, DAY1);
  t.deepEqual(drain(), ['d1', 'presence:xa'], 'once unmetered: disco (high) before presence, the last presence state only');
  t.is(s.length, 0);
});

test('scheduler: a held presence is still expired by its hold time', (t) => {
  const { s } = setup(BGAN);
  s.push(item(pres('alice@a.example/r', 'away'), DAY1 - 700_000));
  s.push(item(msg('m1'), DAY1));
  const old = s.expireOlderThan(DAY1, 600_000);
  t.deepEqual(old.map((o) => o.el.local), ['presence']);
  t.is(s.length, 1);
});

test('scheduler: a spent budget refuses with resource-constraint; urgent senders and the SHIM Urgency header still go', (t) => {
  const { s, meter, drain, refused, at } = setup(BGAN);
  meter.sent('bgan-64k', 10_000, DAY1);
  s.push(item(msg('m1')));
  s.push(item(msg('c1', 'captain@a.example/bridge')));
  s.push(item(msg('h1', 'alice@a.example/r', "<headers xmlns='http://jabber.org/protocol/shim'><header name='Urgency'>high</header></headers>")));
  s.push(item(msg('h2', 'alice@a.example/r', "<headers xmlns='http://jabber.org/protocol/shim'><header name='Urgency'>low</header></headers>")));
  s.push(item(pres('alice@a.example/r', 'away')));
  t.deepEqual(drain(), ['c1', 'h1']);
  t.deepEqual(refused, ['m1', 'h2']);
  const out = s.refused();
  t.deepEqual(out.map((r) => [r.stanza.el.attr('id'), r.error.condition, r.error.type, r.reason]), [
    ['m1', 'resource-constraint', 'wait', 'metered_budget'],
    ['h2', 'resource-constraint', 'wait', 'metered_budget'],
  ]);
  t.deepEqual(s.refused(), [], 'handed out once');
  t.is(s.length, 1, 'presence still waits for a better bearer, it is not refused');
  at(DAY2);
  s.push(item(msg('m2', 'alice@a.example/r'), DAY2));
  t.deepEqual(drain(), ['m2'], 'a new UTC day: the budget starts again');
});

test('scheduler: a stanza queued before the budget ran out is refused when its turn comes', (t) => {
  const { s, meter, drain } = setup(BGAN);
  s.push(item(msg('m1')));
  meter.sent('bgan-64k', 20_000, DAY1);
  t.deepEqual(drain(), []);
  t.deepEqual(s.refused().map((r) => r.stanza.el.attr('id')), ['m1']);
});

test('scheduler: not metered, the order is the inner queue\'s (high before low, first accepted first)', (t) => {
  const { s, drain } = setup(null);
  s.push(item(pres('alice@a.example/r', 'away')));
  s.push(item(msg('m1')));
  s.push(item(disco('d1')));
  s.push(item(ping('p1')));
  s.push(item(msg('m2')));
  t.deepEqual(drain(), ['m1', 'd1', 'p1', 'm2', 'presence:away']);
});

test('urgent rules: bare JID, full JID, domain, message type; nothing when empty', (t) => {
  const u = urgentMatcher({ from: ['captain@a.example', 'ops.a.example', 'bosun@a.example/radio'], message_types: ['headline'], shim_urgency: [] });
  t.true(u(msg('1', 'Captain@a.example/bridge')));
  t.true(u(msg('2', 'anyone@ops.a.example/x')));
  t.true(u(msg('3', 'bosun@a.example/radio')));
  t.false(u(msg('4', 'bosun@a.example/deck')));
  t.true(u(parseXml(`<message xmlns='jabber:server' from='x@a.example' to='y@b.example' type='headline'/>`)));
  t.false(u(msg('5')));
  t.false(urgentMatcher({ from: [], message_types: [], shim_urgency: [] })(msg('6', 'captain@a.example')));
});

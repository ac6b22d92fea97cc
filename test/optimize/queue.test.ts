import test from 'ava';
import { OutboundQueue, FanoutExpandHook, expandFanout, foldCopies, FANOUT_NS, type QueuedStanza } from '../../src/optimize/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { canon, chat, groupchat, recordingCtx, mucOccupantPresence, richPresence } from './fixtures.ts';

let nextId = 1n;
const item = (el: XmlElement, at = 0): QueuedStanza => ({
  id: nextId++, el, bytes: el.toBuffer().length, priority: el.local === 'presence' ? 'low' : 'high', acceptedAt: at,
});
const presence = (from: string, to: string, show?: string, type?: string) =>
  parseXml(`<presence xmlns='jabber:server' from='${from}' to='${to}'${type ? ` type='${type}'` : ''}>${show ? `<show>${show}</show>` : ''}</presence>`);
const drain = (q: OutboundQueue) => {
  const out = [];
  for (let it = q.take(); it; it = q.take()) out.push(it);
  return out;
};

test('coalescing keeps the last presence per (from, to) and returns the superseded ids', (t) => {
  const metrics = new Metrics();
  const q = new OutboundQueue({ coalescePresence: true, fanout: false, metrics, link: 'shore' });
  const a = item(presence('alice@a.example/c', 'bob@b.example', 'away'));
  const other = item(presence('alice@a.example/c', 'carol@b.example', 'away'));
  const b = item(presence('alice@a.example/c', 'bob@b.example', 'xa'));
  const c = item(presence('alice@a.example/c', 'bob@b.example', undefined, 'unavailable'));
  t.deepEqual(q.push(a).superseded, []);
  t.deepEqual(q.push(other).superseded, []);
  t.deepEqual(q.push(b).superseded, [a.id]);
  t.deepEqual(q.push(c).superseded, [b.id]);
  t.is(q.length, 2);
  t.is(q.bytes(), other.bytes + c.bytes);
  const got = drain(q);
  t.deepEqual(got.map((i) => i.ids), [[other.id], [c.id]]);
  t.is(got[1].el.attr('type'), 'unavailable', 'last state wins');
  t.is(metrics.get('optimize_coalesced_total', { link: 'shore' }), 2);
});

test('subscriptions, probes, errors and MUC joins are never coalesced away', (t) => {
  const q = new OutboundQueue({ coalescePresence: true, fanout: true });
  const items: QueuedStanza[] = [];
  const push = (el: XmlElement) => {
    const it = item(el);
    items.push(it);
    return q.push(it).superseded;
  };
  for (const type of ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']) {
    t.deepEqual(push(presence('alice@a.example', 'bob@b.example', undefined, type)), []);
    t.deepEqual(push(presence('alice@a.example', 'bob@b.example', undefined, type)), [], `second ${type}`);
  }
  const join = parseXml(`<presence xmlns='jabber:server' from='alice@a.example/c' to='ops@conference.b.example/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  t.deepEqual(push(join), []);
  t.deepEqual(push(presence('alice@a.example/c', 'ops@conference.b.example/alice', 'away')), [], 'a join is kept');
  t.is(q.length, items.length);
  const covered = drain(q).flatMap((i) => i.ids);
  t.deepEqual(covered, items.map((i) => i.id), 'all taken, in order');
});

test('take(): every high (message, iq) before low (presence), FIFO within a class', (t) => {
  const q = new OutboundQueue({ coalescePresence: false, fanout: false });
  const p1 = item(presence('a@a.example/1', 'b@b.example', 'away'));
  const m1 = item(chat('a@a.example/1', 'b@b.example', 1));
  const p2 = item(presence('a@a.example/2', 'c@b.example', 'dnd'));
  const iq = item(parseXml(`<iq xmlns='jabber:server' type='get' id='v' from='a@a.example/1' to='b.example'><ping xmlns='urn:xmpp:ping'/></iq>`));
  const m2 = item(chat('a@a.example/1', 'b@b.example', 2));
  for (const i of [p1, m1, p2, iq, m2]) q.push(i);
  t.deepEqual(drain(q).map((i) => [i.ids[0], i.priority]), [[m1.id, 'high'], [iq.id, 'high'], [m2.id, 'high'], [p1.id, 'low'], [p2.id, 'low']]);
  t.is(q.length, 0);
  t.is(q.bytes(), 0);
  t.is(q.take(), undefined);
});

test('fan-out: a presence broadcast to N contacts in one domain crosses as one item and expands to exactly the N stanzas', (t) => {
  const metrics = new Metrics();
  const q = new OutboundQueue({ coalescePresence: true, fanout: true, metrics });
  const contacts = ['bob@b.example', 'carol@b.example', 'dave@b.example', 'erin@b.example'];
  const copies = contacts.map((to) => item(richPresence('alice@a.example/gajim.X1', to)));
  const elsewhere = item(richPresence('alice@a.example/gajim.X1', 'zoe@c.example'));
  q.push(copies[0]);
  q.push(copies[1]);
  q.push(elsewhere);
  q.push(copies[2]);
  q.push(copies[3]);
  const first = q.take()!;
  t.deepEqual(first.ids, copies.map((c) => c.id));
  t.is(first.el.getChild('fanout', FANOUT_NS)!.getChildren('to').length, 3);
  t.is(first.el.attr('to'), 'bob@b.example');
  t.deepEqual(expandFanout(first.el).map(canon), copies.map((c) => canon(c.el)));
  t.deepEqual(q.take()!.ids, [elsewhere.id], 'another domain is not folded in');
  t.is(metrics.get('optimize_folds_total', { kind: 'presence' }), 1);
  t.is(metrics.get('optimize_fold_saved_stanzas_total', { kind: 'presence' }), 3);
});

test('fan-out: MUC groupchat copies (stanza-id, origin-id identical) fold; a differing copy does not', (t) => {
  const q = new OutboundQueue({ coalescePresence: true, fanout: true });
  const occupants = ['bob@b.example/Conversations.a1', 'carol@b.example/gajim.b2', 'dave@b.example/dino.c3'];
  const msgs = occupants.map((to) => item(groupchat('ops@conference.a.example', 'kay', to, 7)));
  const edited = item(groupchat('ops@conference.a.example', 'kay', 'erin@b.example/x', 8));
  for (const m of [msgs[0], edited, msgs[1], msgs[2]]) q.push(m);
  const it = q.take()!;
  t.deepEqual(it.ids, msgs.map((m) => m.id));
  t.deepEqual(expandFanout(it.el).map(canon), msgs.map((m) => canon(m.el)));
  t.deepEqual(q.take()!.ids, [edited.id]);
});

test('fan-out keeps per-recipient order: a copy behind another stanza to the same recipient is not pulled ahead', (t) => {
  const q = new OutboundQueue({ coalescePresence: false, fanout: true });
  const m7a = item(groupchat('ops@conference.a.example', 'kay', 'bob@b.example/1', 7));
  const m6c = item(groupchat('ops@conference.a.example', 'kay', 'carol@b.example/1', 6));
  const m7c = item(groupchat('ops@conference.a.example', 'kay', 'carol@b.example/1', 7));
  for (const m of [m7a, m6c, m7c]) q.push(m);
  t.deepEqual(drain(q).map((i) => i.ids), [[m7a.id], [m6c.id], [m7c.id]]);
});

test('fan-out off: identical copies are taken one by one; iq and chat never fold', (t) => {
  const q = new OutboundQueue({ coalescePresence: false, fanout: false });
  for (const to of ['b@b.example', 'c@b.example']) q.push(item(richPresence('a@a.example/1', to)));
  t.is(drain(q).length, 2);
  const q2 = new OutboundQueue({ coalescePresence: false, fanout: true });
  const one = parseXml(`<message xmlns='jabber:server' from='a@a.example/1' to='b@b.example' type='chat'><body>x</body></message>`);
  const two = parseXml(`<message xmlns='jabber:server' from='a@a.example/1' to='c@b.example' type='chat'><body>x</body></message>`);
  q2.push(item(one));
  q2.push(item(two));
  t.is(drain(q2).length, 2);
});

test('expireOlderThan removes and returns only stanzas past the age, and counts drop', (t) => {
  const metrics = new Metrics();
  const q = new OutboundQueue({ coalescePresence: true, fanout: true, metrics, link: 'shore' });
  const old1 = item(chat('a@a.example/1', 'b@b.example', 1), 1000);
  const old2 = item(presence('a@a.example/1', 'b@b.example', 'away'), 1500);
  const fresh = item(chat('a@a.example/1', 'b@b.example', 2), 9000);
  for (const i of [old1, old2, fresh]) q.push(i);
  const gone = q.expireOlderThan(10_000, 5000);
  t.deepEqual(gone.map((g) => g.id), [old1.id, old2.id]);
  t.is(q.length, 1);
  t.is(q.bytes(), fresh.bytes);
  t.deepEqual(q.take()!.ids, [fresh.id]);
  t.is(metrics.get('optimize_queue_expired_total', { link: 'shore' }), 2);
});

test('foldCopies/expandFanout round trip and the inbound hook', (t) => {
  const copies = ['bob@b.example/1', 'carol@b.example', 'dave@b.example/x'].map((to) => mucOccupantPresence('ops@conference.a.example', 'kay', to));
  const folded = foldCopies(copies);
  const metrics = new Metrics();
  const r = new FanoutExpandHook({ metrics }).inbound(parseXml(folded.toString()), recordingCtx('ship'));
  t.false(r instanceof StanzaError);
  t.deepEqual((r as XmlElement[]).map(canon), copies.map(canon));
  t.is(metrics.get('optimize_expanded_stanzas_total'), 3);
  const plain = chat('a@a.example/1', 'b@b.example', 3);
  t.deepEqual(new FanoutExpandHook().inbound(plain, recordingCtx()), [plain]);
});

test('a fanout with a recipient outside the first to-domain is refused with bad-request', (t) => {
  const metrics = new Metrics();
  const hook = new FanoutExpandHook({ metrics });
  const bad = parseXml(
    `<message xmlns='jabber:server' from='ops@conference.a.example/kay' to='bob@b.example' type='groupchat'><body>x</body>` +
      `<fanout xmlns='${FANOUT_NS}'><to>carol@b.example</to><to>mallory@evil.example</to></fanout></message>`,
  );
  const r = hook.inbound(bad, recordingCtx());
  t.true(r instanceof StanzaError);
  t.is((r as StanzaError).condition, 'bad-request');
  t.is(metrics.get('optimize_expand_refused_total', { condition: 'bad-request' }), 1);
  const junk = parseXml(`<presence xmlns='jabber:server' from='a@a.example/1' to='b@b.example'><fanout xmlns='${FANOUT_NS}'><to>not a jid@@</to></fanout></presence>`);
  t.true(hook.inbound(junk, recordingCtx()) instanceof StanzaError);
  const empty = parseXml(`<presence xmlns='jabber:server' from='a@a.example/1' to='b@b.example'><fanout xmlns='${FANOUT_NS}'/></presence>`);
  t.is((hook.inbound(empty, recordingCtx()) as StanzaError).condition, 'bad-request');
});

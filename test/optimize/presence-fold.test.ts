import test from 'ava';
import { PresenceFoldHook, foldPresence } from '../../src/optimize/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { parseXml } from '../../src/xml/index.ts';
import { capsXml, canon, gajim, recordingCtx, mucOccupantPresence, richPresence, CAPS } from './fixtures.ts';

const link = 'shore';

test('an available presence keeps show, status, priority and caps; vcard-update, idle, nick, signed go', (t) => {
  const metrics = new Metrics();
  const hook = new PresenceFoldHook({ metrics });
  const p = richPresence('alice@a.example/gajim.X1', 'bob@b.example');
  const out = hook.outbound(p, recordingCtx(link));
  t.not(out, p);
  t.deepEqual(out.elements().map((c) => `${c.local} ${c.ns}`), ['show jabber:server', 'status jabber:server', 'priority jabber:server', `c ${CAPS}`]);
  t.is(out.getChildText('show'), 'away');
  t.is(out.getChildText('status'), 'on the bridge');
  t.is(out.getChildText('priority'), '10');
  t.is(canon(out.getChild('c', CAPS)!), canon(parseXml(capsXml(gajim))));
  t.deepEqual(out.attrs, p.attrs);
  t.true(out.toString().length < p.toString().length);
  t.is(p.elements().length, 8, 'the original is not edited');
  t.is(metrics.get('optimize_presence_folded_total', { link: 'shore' }), 1);
  t.true(metrics.get('optimize_presence_fold_bytes_saved_total') > 100);
});

test('keepStatus false drops the status text', (t) => {
  const out = foldPresence(richPresence('alice@a.example/g', 'bob@b.example'), false);
  t.deepEqual(out.elements().map((c) => c.local), ['show', 'priority', 'c']);
});

test('unavailable, subscription types, probes and errors pass untouched (same object)', (t) => {
  const hook = new PresenceFoldHook();
  for (const type of ['unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe', 'error']) {
    const p = parseXml(`<presence xmlns='jabber:server' from='alice@a.example' to='bob@b.example' type='${type}'><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick><status>bye</status></presence>`);
    t.is(hook.outbound(p, recordingCtx(link)), p, type);
  }
});

test('MUC occupant presence keeps muc#user items and occupant-id; a MUC join keeps its muc element', (t) => {
  const occ = mucOccupantPresence('ops@conference.a.example', 'kay', 'bob@b.example/dino.Q');
  const out = foldPresence(occ);
  t.deepEqual(out.elements().map((c) => c.local), ['c', 'occupant-id', 'x']);
  t.is(out.getChild('x', 'http://jabber.org/protocol/muc#user')!.getChild('item')!.attr('affiliation'), 'member');
  const join = parseXml(`<presence xmlns='jabber:server' from='alice@a.example/c' to='ops@conference.b.example/alice'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='20'/></x><x xmlns='vcard-temp:x:update'><photo/></x></presence>`);
  const j = foldPresence(join);
  t.deepEqual(j.elements().map((c) => c.ns), ['http://jabber.org/protocol/muc']);
  t.is(j.getChild('x', 'http://jabber.org/protocol/muc')!.getChild('history')!.attr('maxstanzas'), '20');
});

test('a presence with nothing to drop is passed as is and not counted', (t) => {
  const metrics = new Metrics();
  const p = parseXml(`<presence xmlns='jabber:server' from='alice@a.example/c' to='bob@b.example'><show>dnd</show></presence>`);
  t.is(new PresenceFoldHook({ metrics }).outbound(p, recordingCtx(link)), p);
  t.is(metrics.get('optimize_presence_folded_total'), 0);
});

/**
 * Presence and disco optimizers against real Prosody peers (issue 5): entity
 * caps strip/restore, the disco#info / caps cache, presence coalescing while
 * the link cannot send, and presence folding (optimize.presence: fold on the
 * ship). What the far-side client receives is checked against what it would
 * have received without the relay, and the relays' counters show the work.
 */
import test from 'ava';
import { prosodyAvailable } from '../helpers/prosody.ts';
import { bare, subscribeBoth, type ClientEvent, type XmppClient } from '../helpers/xmpp-client.ts';
import { parseXml, type XmlElement } from '../../src/xml/index.ts';
import { NS } from '../../src/xmpp/ns.ts';
import { computeCapsVer, verifyCapsVer } from '../../src/optimize/index.ts';
import { cutAndSaturate, startWorld, until, type World } from './world.ts';

const enabled = prosodyAvailable() || !!process.env.CI;
const run = enabled ? test.serial : test.skip;

interface Ctx { w: World; alice: XmppClient; dora: XmppClient; bob: XmppClient; carol: XmppClient }
let ctx: Ctx | undefined;

if (enabled) {
  test.before(async () => {
    const w = await startWorld({ usersA: ['alice', 'dora'], usersB: ['bob', 'carol'], optimizeA: '{ presence: fold }' });
    try {
      const [alice, dora, bob, carol] = await Promise.all([w.connect('alice', 'A'), w.connect('dora', 'A'), w.connect('bob', 'B'), w.connect('carol', 'B')]);
      await subscribeBoth(alice, bob, 20_000);
      ctx = { w, alice, dora, bob, carol };
    } catch (err) {
      await w.close();
      throw err;
    }
  });
  test.after.always(async () => { await ctx?.w.close(); });
}

const CAPS_NODE = 'https://satrelay.test/client';
const IDENTITY = { category: 'client', type: 'pc', name: 'satrelay test' };
const FEATURES = [NS.DISCO_INFO, NS.CAPS, 'urn:satrelay:test:feature'];
/** XEP-0115 §5.1 ver of what the test clients answer for CAPS_NODE#ver. */
const VER = computeCapsVer(parseXml(`<query xmlns='${NS.DISCO_INFO}'><identity category='${IDENTITY.category}' type='${IDENTITY.type}' name='${IDENTITY.name}'/>` +
  `${FEATURES.map((f) => `<feature var='${f}'/>`).join('')}</query>`))!;
const capsEl = `<c xmlns='${NS.CAPS}' hash='sha-1' node='${CAPS_NODE}' ver='${VER}'/>`;

const presenceFrom = (from: string, pred: (e: ClientEvent) => boolean = () => true) => (e: ClientEvent): boolean =>
  e.event === 'presence' && bare(e.from) === from && pred(e);
const childNames = (el: XmlElement): string[] => el.elements().map((c) => `${c.ns === el.ns ? '' : `{${c.ns}}`}${c.local}`).sort();
const metric = (w: World, side: 'A' | 'B', name: string, labels: Record<string, string> = {}): number => (side === 'A' ? w.relayA : w.relayB).metrics.get(name, labels);

run('caps strip/restore: once the shore holds a caps element, it crosses as a marker and bob still gets the same <c/>', async (t) => {
  const { w, alice, bob } = ctx!;
  const strippedBefore = metric(w, 'A', 'optimize_caps_strip_total', { result: 'stripped' });
  alice.sendRaw(`<presence><status>first</status>${capsEl}</presence>`);
  const first = await bob.waitFor(presenceFrom('alice@a.example', (e) => e.status === 'first'), 15_000);
  const c1 = parseXml(first.xml!).getChild('c', NS.CAPS);
  t.truthy(c1, 'the first presence carries caps');
  t.is(metric(w, 'A', 'optimize_caps_strip_total', { result: 'stripped' }), strippedBefore, 'not stripped before the shore acked it');
  // The shore stores the element, then acks it over the link (caps-strip.ts, rule 1).
  await until(() => metric(w, 'A', 'optimize_caps_acks_received_total') >= 1, 'the shore\'s caps ack at the ship');

  const restoredBefore = metric(w, 'B', 'optimize_caps_restore_total', { result: 'restored' });
  alice.sendRaw(`<presence><show>away</show><status>second</status>${capsEl}</presence>`);
  const second = await bob.waitFor(presenceFrom('alice@a.example', (e) => e.status === 'second'), 15_000);
  t.is(second.show, 'away');
  const el = parseXml(second.xml!);
  const c2 = el.getChild('c', NS.CAPS);
  t.truthy(c2, 'bob still gets caps');
  t.deepEqual({ hash: c2!.attr('hash'), node: c2!.attr('node'), ver: c2!.attr('ver') }, { hash: 'sha-1', node: CAPS_NODE, ver: VER });
  t.deepEqual({ hash: c1!.attr('hash'), node: c1!.attr('node'), ver: c1!.attr('ver') }, { hash: 'sha-1', node: CAPS_NODE, ver: VER });
  t.is(el.getChild('c', 'urn:satrelay:caps:0'), undefined, 'no marker reaches the client');
  t.is(metric(w, 'A', 'optimize_caps_strip_total', { result: 'stripped' }) - strippedBefore, 1, 'the ship sent a marker instead of <c/>');
  t.is(metric(w, 'B', 'optimize_caps_restore_total', { result: 'restored' }) - restoredBefore, 1, 'the shore put <c/> back');
  t.is(metric(w, 'B', 'optimize_caps_restore_total', { result: 'unknown' }), 0);
});

run('disco#info cache: the first node#ver query crosses, later ones (other asker, other JID with that ver) are answered at the shore', async (t) => {
  const { w, alice, dora, bob, carol } = ctx!;
  const node = `${CAPS_NODE}#${VER}`;
  await Promise.all([alice, dora].map((c) => c.discoSet(node, [IDENTITY], FEATURES)));
  // Bob learns of dora through a directed presence (the cache answers for a client only while it is there).
  dora.sendRaw(`<presence to='bob@b.example'>${capsEl}</presence>`);
  await bob.waitFor(presenceFrom('dora@a.example'), 15_000);
  const discoGets = (c: XmppClient): ClientEvent[] => c.received.filter((e) => e.event === 'iq' && e.type === 'get' && (e.xml ?? '').includes(NS.DISCO_INFO));

  const missBefore = metric(w, 'B', 'optimize_cache_misses_total', { kind: 'caps' });
  const first = await bob.discoInfo(alice.jid, 15_000, { node });
  t.true(first.ok, first.error);
  t.is(first.node, node);
  const q1 = parseXml(first.xml!).getChild('query', NS.DISCO_INFO)!;
  t.is(verifyCapsVer(q1, VER, ['sha-1']), 'sha-1', 'the answer matches the advertised ver');
  t.is(metric(w, 'B', 'optimize_cache_misses_total', { kind: 'caps' }) - missBefore, 1, 'the first query crossed');
  t.is(discoGets(alice).length, 1, 'alice answered it herself');

  const hitsBefore = metric(w, 'B', 'optimize_cache_hits_total', { kind: 'caps' });
  const iqSentBefore = metric(w, 'B', 'link_stanzas_sent_total', { kind: 'iq' });
  const iqAtShipBefore = metric(w, 'A', 'stanzas_in_total', { direction: 'from_link', kind: 'iq' });
  const fromCarol = await carol.discoInfo(alice.jid, 15_000, { node });
  const toDora = await bob.discoInfo(dora.jid, 15_000, { node });
  for (const [what, r, jid] of [['carol -> alice', fromCarol, alice.jid], ['bob -> dora', toDora, dora.jid]] as const) {
    t.true(r.ok, `${what}: ${r.error ?? ''}`);
    t.is(r.node, node, what);
    t.deepEqual(r.identities, first.identities, what);
    t.deepEqual([...r.features].sort(), [...first.features].sort(), what);
    const iq = parseXml(r.xml!);
    t.is(iq.attr('from'), jid, `${what}: answered as the queried JID (XEP-0030 §3.1)`);
    t.is(verifyCapsVer(iq.getChild('query', NS.DISCO_INFO)!, VER, ['sha-1']), 'sha-1', what);
  }
  t.is(metric(w, 'B', 'optimize_cache_hits_total', { kind: 'caps' }) - hitsBefore, 2, 'two cache hits');
  t.is(metric(w, 'B', 'link_stanzas_sent_total', { kind: 'iq' }), iqSentBefore, 'no iq went out on the link');
  t.is(metric(w, 'A', 'stanzas_in_total', { direction: 'from_link', kind: 'iq' }), iqAtShipBefore, 'no iq reached the ship');
  t.is(discoGets(alice).length, 1, 'alice saw only the first query');
  t.is(discoGets(dora).length, 0, 'dora saw none');
});

run('disco#info cache: a client that went offline, or was never seen, is not answered for; its server answers as without the relay', async (t) => {
  const { w, bob } = ctx!;
  const node = `${CAPS_NODE}#${VER}`;
  const lab = await w.connect('dora', 'A', { resource: 'lab', initialPresence: false });
  await lab.discoSet(node, [IDENTITY], FEATURES);
  lab.sendRaw(`<presence to='bob@b.example'>${capsEl}</presence>`);
  await bob.waitFor(presenceFrom('dora@a.example', (e) => e.from === lab.jid && e.type !== 'unavailable'), 15_000);
  const online = await bob.discoInfo(lab.jid, 15_000, { node });
  t.true(online.ok, online.error);
  t.is(online.node, node);

  // dora/lab leaves: Prosody tells bob (directed presence), the shore sees that unavailable cross.
  await lab.close();
  await bob.waitFor(presenceFrom('dora@a.example', (e) => e.from === lab.jid && e.type === 'unavailable'), 15_000);
  const bypassBefore = metric(w, 'B', 'optimize_cache_bypass_total', { reason: 'client_unavailable' });
  const hitsBefore = metric(w, 'B', 'optimize_cache_hits_total', { kind: 'caps' });
  const gone = await bob.discoInfo(lab.jid, 15_000, { node });
  t.false(gone.ok, 'not answered as if dora/lab were online');
  t.is(gone.error, 'service-unavailable', 'what a.example says for a client that is not there');
  const never = await bob.discoInfo('dora@a.example/never-seen', 15_000, { node });
  t.false(never.ok);
  t.is(never.error, 'service-unavailable');
  t.is(metric(w, 'B', 'optimize_cache_bypass_total', { reason: 'client_unavailable' }) - bypassBefore, 2, 'both crossed to a.example');
  t.is(metric(w, 'B', 'optimize_cache_hits_total', { kind: 'caps' }), hitsBefore, 'no cache answer');
});

run('presence coalescing: while the link cannot send, only alice\'s newest presence reaches bob; a subscribe sent meanwhile still arrives', async (t) => {
  const { w, alice, bob, carol } = ctx!;
  const fillers = await cutAndSaturate(w, alice, 'bob@b.example', 'pfill');
  const mark = bob.received.length;
  const coalescedBefore = metric(w, 'A', 'optimize_coalesced_total');
  const presIn = metric(w, 'A', 'stanzas_in_total', { direction: 'to_link', kind: 'presence' });
  alice.sendPresence({ show: 'away', status: 'c-1' });
  alice.sendPresence({ show: 'xa', status: 'c-2' });
  alice.sendPresence({ to: 'carol@b.example', type: 'subscribe' });
  alice.sendPresence({ show: 'dnd', status: 'c-3' });
  alice.sendPresence({ show: 'chat', status: 'c-final' });
  await until(() => metric(w, 'A', 'stanzas_in_total', { direction: 'to_link', kind: 'presence' }) >= presIn + 5, 'five presences at the ship');
  // Each push onto the queue supersedes the state queued before it (from alice/t to bob), once spooled.
  await until(() => metric(w, 'A', 'optimize_coalesced_total') - coalescedBefore >= 3, 'three superseded states', 10_000);
  await new Promise((r) => setTimeout(r, 100)); // a fourth (wrong) one would show up here
  t.is(metric(w, 'A', 'optimize_coalesced_total') - coalescedBefore, 3, 'three superseded states did not wait for the link');
  await w.gate.open();

  const last = await bob.waitFor((e) => bob.received.indexOf(e) >= mark && presenceFrom('alice@a.example', (p) => p.status === 'c-final')(e), 20_000);
  t.is(last.show, 'chat');
  const sub = await carol.waitFor(presenceFrom('alice@a.example', (e) => e.type === 'subscribe'), 20_000);
  t.is(sub.to, 'carol@b.example');
  await bob.waitForCount((e) => e.event === 'message' && (e.id ?? '').startsWith('pfill-'), fillers.length, 20_000);
  await new Promise((r) => setTimeout(r, 300)); // a late stale state would show up here
  const seen = bob.received.slice(mark).filter(presenceFrom('alice@a.example')).map((e) => e.status);
  t.deepEqual(seen, ['c-final'], 'bob got only the newest state');
  t.deepEqual(bob.received.filter((e) => e.event === 'message' && (e.id ?? '').startsWith('pfill-')).map((e) => e.id), fillers, 'messages queued meanwhile all arrive, in order');
});

run('presence folding: bob gets show/status/priority only; unavailable passes untouched', async (t) => {
  const { w, alice, bob } = ctx!;
  const foldedBefore = metric(w, 'A', 'optimize_presence_folded_total');
  alice.sendRaw(`<presence to='${bob.jid}'><show>away</show><status>folded</status><priority>5</priority>` +
    `<nick xmlns='http://jabber.org/protocol/nick'>Alice</nick><x xmlns='vcard-temp:x:update'><photo>0123456789abcdef</photo></x>` +
    `<idle xmlns='urn:xmpp:idle:1' since='2026-01-01T00:00:00Z'/></presence>`);
  const p = await bob.waitFor(presenceFrom('alice@a.example', (e) => e.status === 'folded'), 15_000);
  const el = parseXml(p.xml!);
  t.deepEqual(childNames(el), ['priority', 'show', 'status'], 'no nick, vcard-update or idle');
  t.is(p.show, 'away');
  t.is(el.getChildText('priority', el.ns), '5');
  t.is(metric(w, 'A', 'optimize_presence_folded_total') - foldedBefore, 1);

  alice.sendRaw(`<presence to='${bob.jid}' type='unavailable'><status>bye</status><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick></presence>`);
  const gone = await bob.waitFor(presenceFrom('alice@a.example', (e) => e.type === 'unavailable' && e.status === 'bye'), 15_000);
  t.deepEqual(childNames(parseXml(gone.xml!)), ['status', '{http://jabber.org/protocol/nick}nick'], 'unavailable is not folded');
  t.is(metric(w, 'A', 'optimize_presence_folded_total') - foldedBefore, 1);
});

/**
 * Fan-out folding against real Prosody (issue 5): a MUC room on
 * conference.a.example with a speaker on a.example and 10 occupants on
 * b.example. One groupchat message from the speaker makes Prosody's mod_muc
 * send 10 copies (XEP-0045 §7.4) that differ only in `to`; the ship folds them
 * into ONE link stanza and the shore expands it back into 10.
 */
import test from 'ava';
import { prosodyAvailable } from '../helpers/prosody.ts';
import { type ClientEvent, type XmppClient } from '../helpers/xmpp-client.ts';
import { parseXml } from '../../src/xml/index.ts';
import { cutAndSaturate, startWorld, until, type World } from './world.ts';

const run = prosodyAvailable() || process.env.CI ? test.serial : test.skip;
const ROOM = 'room@conference.a.example';
const MUC_USER = 'http://jabber.org/protocol/muc#user';
const OCCUPANTS = Array.from({ length: 10 }, (_, i) => `occ${i}`);

interface Ctx { w: World; speaker: XmppClient; occ: XmppClient[] }
let ctx: Ctx | undefined;

const isRoomPresence = (nick: string) => (e: ClientEvent): boolean => e.event === 'presence' && e.from === `${ROOM}/${nick}` && (e.type ?? null) === null;

if (prosodyAvailable() || process.env.CI) {
  test.before(async () => {
    const w = await startWorld({ usersA: ['speaker'], usersB: OCCUPANTS, mucA: true, optimizeA: '{ fanout: true }' });
    try {
      const [speaker, ...occ] = await Promise.all([w.connect('speaker', 'A'), ...OCCUPANTS.map((u) => w.connect(u, 'B'))]);
      const join = (c: XmppClient, nick: string): void =>
        c.sendRaw(`<presence to='${ROOM}/${nick}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
      join(speaker, 'speaker');
      await speaker.waitFor(isRoomPresence('speaker'), 10_000);
      OCCUPANTS.forEach((nick, i) => join(occ[i], nick));
      // Everyone sees everyone (XEP-0045 §7.2.3): the room is settled.
      const nicks = ['speaker', ...OCCUPANTS];
      await Promise.all([speaker, ...occ].map((c) => Promise.all(nicks.map((n) => c.waitFor(isRoomPresence(n), 30_000)))));
      ctx = { w, speaker, occ };
    } catch (err) {
      await w.close();
      throw err;
    }
  });
  test.after.always(async () => { await ctx?.w.close(); });
}

run('fan-out: one groupchat to 10 remote occupants crosses the link as one stanza, each occupant gets its own correct copy', async (t) => {
  const { w, speaker, occ } = ctx!;
  // The speaker's own echo and each occupant's self-presence carry the room's view of who is who.
  for (const [i, c] of occ.entries()) {
    const self = await c.waitFor(isRoomPresence(OCCUPANTS[i]));
    t.true(parseXml(self.xml!).getChild('x', MUC_USER)!.getChildren('status', MUC_USER).some((s) => s.attr('code') === '110'), 'self-presence');
  }

  const fillers = await cutAndSaturate(w, speaker, 'occ0@b.example', 'fill');
  const m = (relay: 'A' | 'B', name: string, labels: Record<string, string> = {}) => (relay === 'A' ? w.relayA : w.relayB).metrics.get(name, labels);
  const foldsBefore = m('A', 'optimize_folds_total', { kind: 'groupchat' });
  const savedBefore = m('A', 'optimize_fold_saved_stanzas_total', { kind: 'groupchat' });
  const expandsBefore = m('B', 'optimize_expands_total', { kind: 'groupchat' });
  const expandedBefore = m('B', 'optimize_expanded_stanzas_total', { kind: 'groupchat' });
  const msgsInA = m('A', 'stanzas_in_total', { direction: 'to_link', kind: 'message' });
  const msgsRxB = m('B', 'link_stanzas_received_total', { kind: 'message' });
  const localOutB = m('B', 'stanzas_out_total', { direction: 'to_local', kind: 'message' });

  speaker.sendMessage(ROOM, 'hello room', { type: 'groupchat', id: 'gc-1' });
  // The speaker's own copy is local; the 10 remote copies reach the ship and stay queued.
  const echo = await speaker.waitFor((e) => e.event === 'message' && e.from === `${ROOM}/speaker` && e.body === 'hello room', 10_000);
  const echoOccupantId = parseXml(echo.xml!).getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attr('id');
  t.truthy(echoOccupantId);
  await until(() => m('A', 'stanzas_in_total', { direction: 'to_link', kind: 'message' }) >= msgsInA + 10, 'the 10 copies at the ship');
  t.is(m('A', 'stanzas_in_total', { direction: 'to_link', kind: 'message' }), msgsInA + 10, 'Prosody sent one copy per remote occupant');
  await w.gate.open();

  const isGc = (e: ClientEvent): boolean => e.event === 'message' && e.type === 'groupchat' && e.body === 'hello room';
  await Promise.all(occ.map((c) => c.waitFor(isGc, 20_000)));
  // occ0 also gets every filler, in order, once (they crossed ahead of the groupchat).
  await occ[0].waitForCount((e) => e.event === 'message' && typeof e.body === 'string' && e.body.startsWith('fill-'), fillers.length, 20_000);
  await new Promise((r) => setTimeout(r, 300)); // a duplicate would show up here
  for (const [i, c] of occ.entries()) {
    const got = c.received.filter(isGc);
    t.is(got.length, 1, `${OCCUPANTS[i]} gets exactly one copy`);
    t.is(got[0].from, `${ROOM}/speaker`, 'from the speaker\'s occupant JID');
    t.is(got[0].to, c.jid, 'to the occupant\'s own full JID');
    t.is(got[0].id, 'gc-1');
    const el = parseXml(got[0].xml!);
    t.is(el.getChild('fanout', 'urn:satrelay:fanout:0'), undefined, 'no fan-out list reaches the client');
    t.is(el.getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attr('id'), echoOccupantId, 'the same stanza the room sent its local occupant (XEP-0421 occupant-id)');
  }
  t.deepEqual(occ[0].received.filter((e) => e.event === 'message' && e.body?.startsWith('fill-')).map((e) => e.id), fillers, 'fillers once each, in order');
  t.is(speaker.received.filter((e) => e.event === 'message' && e.type === 'error').length, 0, 'no bounces');

  // One crossing for the 10 copies.
  t.is(m('A', 'optimize_folds_total', { kind: 'groupchat' }) - foldsBefore, 1, 'the ship folded once');
  t.is(m('A', 'optimize_fold_saved_stanzas_total', { kind: 'groupchat' }) - savedBefore, 9, 'nine copies did not cross');
  t.is(m('B', 'optimize_expands_total', { kind: 'groupchat' }) - expandsBefore, 1);
  t.is(m('B', 'optimize_expanded_stanzas_total', { kind: 'groupchat' }) - expandedBefore, 10);
  t.is(m('B', 'link_stanzas_received_total', { kind: 'message' }) - msgsRxB, fillers.length + 1, 'the link carried the fillers and ONE groupchat');
  t.is(m('B', 'stanzas_out_total', { direction: 'to_local', kind: 'message' }) - localOutB, fillers.length + 10, 'the shore wrote 10 groupchat copies to Prosody');
});

run('fan-out on an idle link: every occupant still gets exactly one correct copy (the crossings are logged)', async (t) => {
  const { w, speaker, occ } = ctx!;
  const crossedBefore = w.relayB.metrics.get('link_stanzas_received_total', { kind: 'message' });
  const foldsBefore = w.relayA.metrics.get('optimize_folds_total', { kind: 'groupchat' });
  speaker.sendMessage(ROOM, 'second', { type: 'groupchat', id: 'gc-2' });
  const echo = await speaker.waitFor((e) => e.event === 'message' && e.id === 'gc-2', 10_000);
  const isGc = (e: ClientEvent): boolean => e.event === 'message' && e.type === 'groupchat' && e.id === 'gc-2';
  await Promise.all(occ.map((c) => c.waitFor(isGc, 20_000)));
  await new Promise((r) => setTimeout(r, 300));
  const occupantId = (e: ClientEvent): string | undefined => parseXml(e.xml!).getChild('occupant-id', 'urn:xmpp:occupant-id:0')?.attr('id');
  for (const [i, c] of occ.entries()) {
    const got = c.received.filter(isGc);
    t.is(got.length, 1, OCCUPANTS[i]);
    t.like(got[0], { from: `${ROOM}/speaker`, to: c.jid, body: 'second' });
    t.is(occupantId(got[0]), occupantId(echo), 'the same stanza the room sent its local occupant (XEP-0421 occupant-id)');
  }
  t.log(`idle link: ${w.relayB.metrics.get('link_stanzas_received_total', { kind: 'message' }) - crossedBefore} link stanzas, ${w.relayA.metrics.get('optimize_folds_total', { kind: 'groupchat' }) - foldsBefore} folds for 10 copies`);
});

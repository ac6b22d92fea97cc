/**
 * The boundary policy against real Prosody peers (issue 5). The ship's site
 * file drops chat states and XHTML-IM (optimize.drop), blocks Jingle and file
 * transfer (policy.block_namespaces) and the domain conference.b.example
 * (policy.block). Refused stanzas come back to the sender as stanza errors
 * through Prosody (RFC 6120 §8.3), the far side sees nothing, and each refusal
 * or drop is one audit log line.
 */
import test from 'ava';
import { prosodyAvailable } from '../helpers/prosody.ts';
import { type ClientEvent, type XmppClient } from '../helpers/xmpp-client.ts';
import { parseXml } from '../../src/xml/index.ts';
import { NS } from '../../src/xmpp/ns.ts';
import { auditLines, errorOf, worldWithAliceAndBob, type World } from './world.ts';

const enabled = prosodyAvailable() || !!process.env.CI;
const run = enabled ? test.serial : test.skip;

interface Ctx { w: World; alice: XmppClient; bob: XmppClient }
let ctx: Ctx | undefined;

if (enabled) {
  test.before(async () => {
    ctx = await worldWithAliceAndBob({
      mucB: true,
      optimizeA: '{ drop: [chatstates, xhtml] }',
      policyA: '{ block: [conference.b.example], block_namespaces: [jingle, file-transfer] }',
    });
  });
  test.after.always(async () => { await ctx?.w.close(); });
}

const metric = (w: World, side: 'A' | 'B', name: string, labels: Record<string, string> = {}): number => (side === 'A' ? w.relayA : w.relayB).metrics.get(name, labels);
const withId = (id: string) => (e: ClientEvent): boolean => e.id === id && (e.event === 'message' || e.event === 'iq' || e.event === 'presence');
const audit = auditLines;
const JINGLE = (sid: string) => `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='${sid}'><content creator='initiator' name='voice'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/></content></jingle>`;
const SI = `<si xmlns='http://jabber.org/protocol/si' id='s1' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='a.txt' size='3'/></si>`;

run('chat states and XHTML-IM: a bare chat state never arrives, a message with a body arrives without them', async (t) => {
  const { w, alice, bob } = ctx!;
  const before = {
    cs: metric(w, 'A', 'policy_drops_total', { reason: 'chatstates' }),
    xhtml: metric(w, 'A', 'policy_drops_total', { reason: 'xhtml' }),
    whole: metric(w, 'A', 'drops_total', { reason: 'policy_payload' }),
  };
  const to = bob.jid;
  alice.sendRaw(`<message to='${to}' type='chat' id='cs-only'><composing xmlns='${NS.CHATSTATES}'/></message>`);
  alice.sendRaw(`<message to='${to}' type='chat' id='cs-body'><body>hi</body><active xmlns='${NS.CHATSTATES}'/></message>`);
  alice.sendRaw(`<message to='${to}' type='chat' id='xhtml-1'><body>plain text</body><html xmlns='${NS.XHTML_IM}'><body xmlns='http://www.w3.org/1999/xhtml'><p><b>rich</b> text</p></body></html></message>`);
  alice.sendRaw(`<message to='${to}' type='chat' id='marker-1'><body>marker</body></message>`);
  // Same sender, same recipient: the link keeps their order, so anything sent before the marker is in by now.
  await bob.waitFor(withId('marker-1'), 15_000);
  t.false(bob.received.some(withId('cs-only')), 'the standalone chat state was dropped');
  const csBody = bob.received.find(withId('cs-body'));
  t.is(csBody?.body, 'hi');
  const csEl = parseXml(csBody!.xml!);
  t.deepEqual(csEl.elements().map((c) => c.local), ['body'], 'the chat state is stripped, the body stays');
  const xh = bob.received.find(withId('xhtml-1'));
  t.is(xh?.body, 'plain text');
  t.is(parseXml(xh!.xml!).getChild('html', NS.XHTML_IM), undefined, 'XHTML-IM is stripped');
  t.is(metric(w, 'A', 'policy_drops_total', { reason: 'chatstates' }) - before.cs, 2);
  t.is(metric(w, 'A', 'policy_drops_total', { reason: 'xhtml' }) - before.xhtml, 1);
  t.is(metric(w, 'A', 'drops_total', { reason: 'policy_payload' }) - before.whole, 1, 'one stanza dropped whole');
  const line = audit(w.logs.A, 'cs-only');
  t.is(line.length, 1, 'one audit line for the dropped stanza');
  t.is(line[0].reason, 'payload_only');
  t.is(line[0].direction, 'to_link');
  t.is(alice.received.filter((e) => e.type === 'error').length, 0, 'dropping low-value payload is not an error');
});

run('blocked namespaces: Jingle and file transfer are refused with policy-violation both ways, the far side sees nothing', async (t) => {
  const { w, alice, bob } = ctx!;
  const iqSent = metric(w, 'A', 'link_stanzas_sent_total', { kind: 'iq' });
  const blocked = metric(w, 'A', 'drops_total', { reason: 'policy_namespace_blocked' });
  alice.sendRaw(`<iq to='${bob.jid}' type='set' id='jingle-1'>${JINGLE('j1')}</iq>`);
  alice.sendRaw(`<iq to='${bob.jid}' type='set' id='si-1'>${SI}</iq>`);
  for (const id of ['jingle-1', 'si-1']) {
    const err = await alice.waitFor((e) => withId(id)(e) && e.type === 'error', 15_000);
    t.is(err.event, 'iq');
    t.is(err.from, bob.jid, `${id}: the error comes from the addressee`);
    t.like(errorOf(err), { condition: 'policy-violation', type: 'modify' }, id);
    t.regex(errorOf(err).text ?? '', /blocked/, id);
    const line = audit(w.logs.A, id);
    t.is(line.length, 1, `${id}: one audit line`);
    t.like(line[0], { reason: 'namespace_blocked', direction: 'to_link', from: alice.jid, to: bob.jid });
  }
  t.is(metric(w, 'A', 'drops_total', { reason: 'policy_namespace_blocked' }) - blocked, 2);
  t.is(metric(w, 'A', 'link_stanzas_sent_total', { kind: 'iq' }), iqSent, 'nothing went on the link');

  // Inbound: the shore has no policy, so bob's Jingle crosses and the ship refuses it; the error crosses back.
  bob.sendRaw(`<iq to='${alice.jid}' type='set' id='jingle-in'>${JINGLE('j2')}</iq>`);
  const back = await bob.waitFor((e) => withId('jingle-in')(e) && e.type === 'error', 15_000);
  t.like(errorOf(back), { condition: 'policy-violation', type: 'modify' });
  t.is(back.from, alice.jid);
  t.like(audit(w.logs.A, 'jingle-in')[0], { reason: 'namespace_blocked', direction: 'from_link' });
  t.is(audit(w.logs.A, 'jingle-in').length, 1);

  // A marker from each side proves the refused stanzas are not merely late.
  alice.sendMessage(bob.jid, 'after-ns', { id: 'after-ns-a' });
  bob.sendMessage(alice.jid, 'after-ns', { id: 'after-ns-b' });
  await Promise.all([bob.waitFor(withId('after-ns-a'), 15_000), alice.waitFor(withId('after-ns-b'), 15_000)]);
  for (const id of ['jingle-1', 'si-1']) t.false(bob.received.some(withId(id)), `bob never saw ${id}`);
  t.false(alice.received.some((e) => withId('jingle-in')(e) && e.type === 'set'), 'alice never saw jingle-in');
});

run('blocked domain: stanzas to conference.b.example are refused with not-allowed and never cross', async (t) => {
  const { w, alice } = ctx!;
  const rxB = metric(w, 'B', 'stanzas_in_total', { direction: 'from_link' });
  const sentA = metric(w, 'A', 'link_stanzas_sent_total');
  alice.sendRaw(`<message to='room@conference.b.example' type='chat' id='dom-1'><body>let me in</body></message>`);
  alice.sendRaw(`<presence to='room@conference.b.example/alice' id='dom-2'><x xmlns='http://jabber.org/protocol/muc'/></presence>`);
  const info = await alice.discoInfo('conference.b.example', 15_000);
  const msgErr = await alice.waitFor((e) => withId('dom-1')(e) && e.type === 'error', 15_000);
  const presErr = await alice.waitFor((e) => withId('dom-2')(e) && e.type === 'error', 15_000);
  t.false(info.ok);
  t.is(info.error, 'not-allowed');
  for (const [what, e] of [['message', msgErr], ['presence', presErr]] as const) {
    t.is(e.event, what);
    t.like(errorOf(e), { condition: 'not-allowed', type: 'cancel' }, what);
  }
  for (const id of ['dom-1', 'dom-2']) {
    t.is(audit(w.logs.A, id).length, 1, `${id}: one audit line`);
    t.like(audit(w.logs.A, id)[0], { reason: 'domain_blocked', direction: 'to_link' });
  }
  t.true(w.logs.A.filter((l) => l.audit === true && l.reason === 'domain_blocked').length >= 3, 'the disco query is audited too');
  t.is(metric(w, 'A', 'link_stanzas_sent_total'), sentA, 'nothing went on the link');
  t.is(metric(w, 'B', 'stanzas_in_total', { direction: 'from_link' }), rxB, 'the shore received nothing');
});

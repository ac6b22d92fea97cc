/**
 * XEP-0258 security labels across a relay pair between two real Prosody
 * servers, sent and received by real clients (slixmpp):
 *   ship (a.example) link clearance: NATO policy up to RESTRICTED (2), unlabeled refused,
 *     equivalence national/1 <-> NATO/1, national/2 <-> NATO/2 ("NATO RESTRICTED");
 *   ship local.clearance: national policy only, up to CONFIDENTIAL (3);
 *   shore (b.example) link clearance: NATO up to 2, unlabeled given the default NATO/1.
 * Checked: below the clearance delivered with the label intact; above it, an
 * unparseable label or a foreign policy refused with the error at the sender
 * and an audit line; the mapping seen at the receiver both ways; unlabeled
 * refused on one side and labelled by default on the other; catalog answered.
 */
import test from 'ava';
import { prosodyAvailable } from '../helpers/prosody.ts';
import { type ClientEvent, type XmppClient } from '../helpers/xmpp-client.ts';
import { parseXml } from '../../src/xml/index.ts';
import { encodeEss, parseSecurityLabel, specToEss, NS_SECLABEL } from '../../src/policy/labels/index.ts';
import { auditLines, errorOf, worldWithAliceAndBob, type World } from './world.ts';

const enabled = prosodyAvailable() || !!process.env.CI;
const run = enabled ? test.serial : test.skip;
const NATO = '1.3.6.1.4.1.99999.1';
const NATIONAL = '1.2.826.0.1.1';

interface Ctx { w: World; alice: XmppClient; bob: XmppClient }
let ctx: Ctx | undefined;

if (enabled) {
  test.before(async () => {
    ctx = await worldWithAliceAndBob({
      linkExtraA: `    clearance: { policies: ["${NATO}"], max_classification: 2, unlabeled: refuse }
    equivalence:
      - { local: { policy: "${NATIONAL}", classification: 1 }, remote: { policy: "${NATO}", classification: 1 } }
      - { local: { policy: "${NATIONAL}", classification: 2 }, remote: { policy: "${NATO}", classification: 2, marking: "NATO RESTRICTED" } }`,
      localExtraA: `  clearance: { policies: ["${NATIONAL}"], max_classification: 3, unlabeled: pass }`,
      linkExtraB: `    clearance: { policies: ["${NATO}"], max_classification: 2, unlabeled: { policy: "${NATO}", classification: 1 } }`,
    });
  });
  test.after.always(async () => { await ctx?.w.close(); });
}

const label = (policy: string, classification: number, marking = 'M'): string =>
  `<securitylabel xmlns='${NS_SECLABEL}'><displaymarking fgcolor='black' bgcolor='red'>${marking}</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>${encodeEss(specToEss({ policy, classification })).toString('base64')}</esssecuritylabel></label></securitylabel>`;
const chat = (to: string, id: string, extra = ''): string => `<message to='${to}' type='chat' id='${id}'><body>${id}</body>${extra}</message>`;
const withId = (id: string) => (e: ClientEvent): boolean => e.id === id && (e.event === 'message' || e.event === 'iq');
const audit = auditLines;
const labelIn = (e: ClientEvent) => {
  const sl = parseXml(e.xml!).getChild('securitylabel', NS_SECLABEL);
  return sl ? { ...parseSecurityLabel(sl), xml: sl.toString() } : undefined;
};

run('a label within the clearance crosses with the label intact', async (t) => {
  const { alice, bob } = ctx!;
  alice.sendRaw(chat(bob.jid, 'ok-2', label(NATO, 2, 'NATO RESTRICTED')));
  const got = await bob.waitFor(withId('ok-2'), 15_000);
  const l = labelIn(got)!;
  t.like(l.label, { policy: NATO, classification: 2 });
  t.deepEqual(l.marking, { text: 'NATO RESTRICTED', fg: 'black', bg: 'red' });
  t.is(got.body, 'ok-2');
});

run('above the clearance, unparseable, or a foreign policy: refused with the error at the sender and one audit line each', async (t) => {
  const { w, alice, bob } = ctx!;
  const sent = w.relayA.metrics.get('link_stanzas_sent_total');
  alice.sendRaw(chat(bob.jid, 'secret-4', label(NATO, 4, 'SECRET')));
  alice.sendRaw(chat(bob.jid, 'garbled', `<securitylabel xmlns='${NS_SECLABEL}'><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQMGASk+AAAA</esssecuritylabel></label></securitylabel>`));
  alice.sendRaw(chat(bob.jid, 'foreign', label('1.2.840.999.7', 1)));
  const expect = {
    'secret-4': { condition: 'forbidden', type: 'auth', text: /classification 4 is above the clearance's 2/, rule: 'max_classification' },
    garbled: { condition: 'bad-request', type: 'modify', text: /could not be read/, rule: 'unparseable' },
    foreign: { condition: 'forbidden', type: 'auth', text: /policy 1\.2\.840\.999\.7 is not accepted/, rule: 'policies' },
  } as const;
  for (const [id, want] of Object.entries(expect)) {
    const err = await alice.waitFor((e) => withId(id)(e) && e.type === 'error', 15_000);
    t.is(err.from, bob.jid, `${id}: the error comes from the addressee`);
    const e = errorOf(err);
    t.like(e, { condition: want.condition, type: want.type }, id);
    t.regex(e.text ?? '', want.text, id);
    const lines = audit(w.logs.A, id);
    t.is(lines.length, 1, `${id}: one audit line`);
    t.like(lines[0], { rule: want.rule, direction: 'to_link', to: bob.jid, link: 'shore' });
    t.regex(String(lines[0].from), /^alice@a\.example\//);
    t.truthy(lines[0].label, `${id}: the audit line names the label`);
  }
  t.is(w.relayA.metrics.get('link_stanzas_sent_total'), sent, 'nothing refused went on the link');
  alice.sendRaw(chat(bob.jid, 'after-refusals', label(NATO, 1)));
  await bob.waitFor(withId('after-refusals'), 15_000);
  for (const id of Object.keys(expect)) t.false(bob.received.some(withId(id)), `bob never saw ${id}`);
});

run('equivalence: a national label arrives as the NATO equivalent, and a NATO label arrives as the national one', async (t) => {
  const { w, alice, bob } = ctx!;
  alice.sendRaw(chat(bob.jid, 'nat-2', label(NATIONAL, 2, 'UK RESTRICTED')));
  const got = await bob.waitFor(withId('nat-2'), 15_000);
  t.like(labelIn(got)!.label, { policy: NATO, classification: 2 });
  t.is(labelIn(got)!.marking?.text, 'NATO RESTRICTED');
  t.like(audit(w.logs.A, 'nat-2').find((l) => l.rule === 'equivalence'), { direction: 'to_link', mapped_to: `${NATO}/2 NATO RESTRICTED` });

  bob.sendRaw(chat(alice.jid, 'nato-2-in', label(NATO, 2)));
  const back = await alice.waitFor(withId('nato-2-in'), 15_000);
  t.like(labelIn(back)!.label, { policy: NATIONAL, classification: 2 });
  t.like(audit(w.logs.A, 'nato-2-in')[0], { rule: 'equivalence', direction: 'from_link' });

  // NATO/0 has no national equivalent: the ship's local clearance refuses it; the error crosses back to bob
  bob.sendRaw(chat(alice.jid, 'nato-0-in', label(NATO, 0)));
  const err = await bob.waitFor((e) => withId('nato-0-in')(e) && e.type === 'error', 15_000);
  t.like(errorOf(err), { condition: 'forbidden', type: 'auth' });
  t.like(audit(w.logs.A, 'nato-0-in')[0], { rule: 'policies', direction: 'from_link' });
});

run('unlabeled: refused toward the shore; from the shore, given the default label NATO/1 (national/1 at the ship)', async (t) => {
  const { w, alice, bob } = ctx!;
  alice.sendRaw(chat(bob.jid, 'plain-out'));
  const err = await alice.waitFor((e) => withId('plain-out')(e) && e.type === 'error', 15_000);
  t.like(errorOf(err), { condition: 'forbidden' });
  t.regex(errorOf(err).text ?? '', /unlabeled/);
  t.like(audit(w.logs.A, 'plain-out')[0], { rule: 'unlabeled' });

  bob.sendRaw(chat(alice.jid, 'plain-in'));
  const got = await alice.waitFor(withId('plain-in'), 15_000);
  t.like(labelIn(got)!.label, { policy: NATIONAL, classification: 1 }, 'default NATO/1 at the shore, mapped to national/1 at the ship');
  t.like(audit(w.logs.B, 'plain-in')[0], { rule: 'unlabeled', direction: 'to_link' });
});

run('a catalog request for b.example is answered by the ship relay from its link clearance', async (t) => {
  const { w, alice } = ctx!;
  const sent = w.relayA.metrics.get('link_stanzas_sent_total');
  alice.sendRaw(`<iq to='b.example' type='get' id='cat-1'><catalog xmlns='urn:xmpp:sec-label:catalog:2' to='b.example'/></iq>`);
  const res = await alice.waitFor((e) => withId('cat-1')(e) && e.type === 'result', 15_000);
  const cat = parseXml(res.xml!).getChild('catalog', 'urn:xmpp:sec-label:catalog:2')!;
  t.is(cat.attr('restrict'), 'true');
  const items = cat.getChildren('item');
  t.deepEqual(items.map((i) => i.attr('selector')), ['UNMARKED', 'UNCLASSIFIED', 'RESTRICTED']);
  for (const i of items) t.is(parseSecurityLabel(i.getChild('securitylabel', NS_SECLABEL)!).label?.policy, NATO);
  t.is(w.relayA.metrics.get('label_catalog_answers_total', { link: 'shore' }), 1);
  t.is(w.relayA.metrics.get('link_stanzas_sent_total'), sent, 'answered on the near side');
});

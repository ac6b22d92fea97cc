/** The XEP-0258 label filter as a router hook: decisions, mapping, default labels, catalog, audit lines. */
import test from 'ava';
import { pino } from 'pino';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { StanzaError, bounce } from '../../src/xmpp/errors.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import type { RelayLink } from '../../src/link/port.ts';
import type { HookContext } from '../../src/relay/router.ts';
import { LabelHook, encodeEss, specToEss, parseSecurityLabel, type ClearanceSettings, type LabelSettings } from '../../src/policy/labels/index.ts';

const NATO = '1.3.6.1.4.1.99999.1';
const NATIONAL = '1.2.826.0.1.1';
const link = { name: 'shore', domains: ['b.example'] } as unknown as RelayLink;
const MARKS = { '0': 'UNMARKED', '1': 'UNCLASSIFIED', '2': 'RESTRICTED', '3': 'CONFIDENTIAL', '4': 'SECRET' };
const clearance = (o: Partial<ClearanceSettings> = {}): ClearanceSettings => ({
  policies: [NATO], max_classification: 2, unlabeled: 'refuse', categories: { required: [], allowed: null }, markings: MARKS, ...o,
});

function setup(s: Partial<LabelSettings['links'][string]> & { local?: ClearanceSettings | null } = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  const metrics = new Metrics();
  const settings: LabelSettings = { local: s.local ?? null, links: { shore: { clearance: s.clearance ?? null, equivalence: s.equivalence ?? [] } } };
  const replies: XmlElement[] = [];
  const ctx: HookContext = { replyLocal: (el) => void replies.push(el), replyRemote: () => undefined };
  return { hook: new LabelHook(settings, { logger, metrics }), lines, metrics, replies, ctx };
}

const ess = (policy: string, classification: number, categories?: string[]): string =>
  `<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>M</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>${encodeEss(specToEss({ policy, classification, categories })).toString('base64')}</esssecuritylabel></label></securitylabel>`;
const msg = (label = '', id = 'm1'): XmlElement =>
  parseXml(`<message xmlns='jabber:server' from='alice@a.example/phone' to='bob@b.example' id='${id}' type='chat'><body>hi</body>${label}</message>`);
const labelOf = (el: XmlElement) => parseSecurityLabel(el.getChild('securitylabel', 'urn:xmpp:sec-label:0')!).label;

test('at or below the clearance a labelled stanza passes unchanged; above it, forbidden with the reason and one audit line', (t) => {
  const { hook, lines, metrics, ctx } = setup({ clearance: clearance() });
  const ok = msg(ess(NATO, 2));
  t.is(hook.outbound(ok, link, ctx), ok, 'the very stanza: its bytes cross unedited');
  const r = hook.outbound(msg(ess(NATO, 3), 'm-secret'), link, ctx);
  t.true(r instanceof StanzaError);
  t.like(r as StanzaError, { condition: 'forbidden', type: 'auth' });
  t.regex((r as StanzaError).text!, /classification 3 is above the clearance's 2/);
  const audit = lines.filter((l) => l.audit === true && l.id === 'm-secret');
  t.is(audit.length, 1);
  t.like(audit[0], { rule: 'max_classification', direction: 'to_link', from: 'alice@a.example/phone', to: 'bob@b.example', link: 'shore', label: `${NATO}/3 M` });
  t.is(metrics.get('label_refusals_total', { rule: 'max_classification' }), 1);
});

test('a foreign policy, a missing required category, a category not allowed are refused with their rule', (t) => {
  const { hook, ctx } = setup({ clearance: clearance({ categories: { required: ['1.3.6.1.4.1.99999.2'], allowed: ['1.3.6.1.4.1.99999.2=NATO'] } }) });
  const rule = (el: XmlElement) => (hook.outbound(el, link, ctx) as StanzaError).text;
  t.regex(rule(msg(ess(NATIONAL, 1, ['1.3.6.1.4.1.99999.2=NATO'])))!, /policy 1\.2\.826\.0\.1\.1 is not accepted/);
  t.regex(rule(msg(ess(NATO, 1)))!, /lacks the required category/);
  t.regex(rule(msg(ess(NATO, 1, ['1.3.6.1.4.1.99999.2=NATO', '1.3.6.1.4.1.99999.2=FVEY'])))!, /category 1\.3\.6\.1\.4\.1\.99999\.2=FVEY is not allowed/);
  const ok = msg(ess(NATO, 1, ['1.3.6.1.4.1.99999.2=NATO']));
  t.is(hook.outbound(ok, link, ctx), ok);
});

test('an unparseable label is refused with bad-request, never passed as unlabeled, and the bounce carries none of its content', (t) => {
  const { hook, lines, ctx } = setup({ clearance: clearance({ unlabeled: 'pass' }) });
  const bad = msg(`<securitylabel xmlns='urn:xmpp:sec-label:0'><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>AAAA</esssecuritylabel></label></securitylabel>`, 'm-bad');
  const r = hook.outbound(bad, link, ctx) as StanzaError;
  t.like(r, { condition: 'bad-request', type: 'modify' });
  t.regex(r.text!, /could not be read/);
  t.like(lines.find((l) => l.id === 'm-bad'), { rule: 'unparseable', audit: true });
  const b = bounce(bad, r)!;
  t.is(b.getChild('body'), undefined, 'XEP-0258 §5: no content of the violating stanza in the error');
  t.truthy(b.getChild('error'));
  // a label in presence is a protocol violation (XEP-0258 §5.3)
  const pres = parseXml(`<presence xmlns='jabber:server' from='alice@a.example/p' to='bob@b.example'>${ess(NATO, 1)}</presence>`);
  t.like(hook.outbound(pres, link, ctx) as StanzaError, { condition: 'bad-request' });
});

test('unlabeled: refuse refuses messages with a body, not receipts; pass passes; a default label is added', (t) => {
  const refuse = setup({ clearance: clearance() });
  t.like(refuse.hook.outbound(msg(), link, refuse.ctx) as StanzaError, { condition: 'forbidden' });
  const receipt = parseXml(`<message xmlns='jabber:server' from='alice@a.example/p' to='bob@b.example' id='r1'><received xmlns='urn:xmpp:receipts' id='m0'/></message>`);
  t.is(refuse.hook.outbound(receipt, link, refuse.ctx), receipt);
  const pass = setup({ clearance: clearance({ unlabeled: 'pass' }) });
  const m = msg();
  t.is(pass.hook.outbound(m, link, pass.ctx), m);
  const def = setup({ clearance: clearance({ unlabeled: { policy: NATO, classification: 1 } }) });
  const out = def.hook.outbound(msg('', 'm-def'), link, def.ctx) as XmlElement;
  t.like(labelOf(out), { policy: NATO, classification: 1 });
  t.regex(out.toString(), /<displaymarking>UNCLASSIFIED<\/displaymarking>/);
  t.like(def.lines.find((l) => l.id === 'm-def'), { rule: 'unlabeled', audit: true });
  t.is(def.metrics.get('label_defaults_total'), 1);
});

test('equivalence: a national label becomes the partner policy on the way out and back again on the way in, audited', (t) => {
  const equivalence = [{ local: { policy: NATIONAL, classification: 2 }, remote: { policy: NATO, classification: 2, marking: 'NATO RESTRICTED' } }];
  const { hook, lines, metrics, ctx } = setup({ clearance: clearance(), equivalence, local: clearance({ policies: [NATIONAL], max_classification: 4 }) });
  const out = hook.outbound(msg(ess(NATIONAL, 2), 'm-map'), link, ctx) as XmlElement;
  t.like(labelOf(out), { policy: NATO, classification: 2 });
  t.regex(out.toString(), /NATO RESTRICTED/);
  t.is(out.getChildText('body'), 'hi');
  t.like(lines.find((l) => l.id === 'm-map' && l.rule === 'equivalence'), { label: `${NATIONAL}/2 M`, mapped_to: `${NATO}/2 NATO RESTRICTED`, direction: 'to_link' });
  // a national SECRET has no mapping: the partner's clearance refuses its foreign policy
  t.like(hook.outbound(msg(ess(NATIONAL, 4)), link, ctx) as StanzaError, { condition: 'forbidden' });
  // inbound: the partner's label is mapped to ours, then checked against local.clearance
  const inb = parseXml(`<message xmlns='jabber:server' from='bob@b.example/x' to='alice@a.example' id='m-in' type='chat'><body>yo</body>${ess(NATO, 2)}</message>`);
  const [got] = hook.inbound(inb, link) as XmlElement[];
  t.like(labelOf(got), { policy: NATIONAL, classification: 2 });
  t.is(metrics.get('label_mappings_total'), 2);
});

test('catalog requests for a remote domain are answered on the near side from the link clearance', (t) => {
  const { hook, replies, metrics, ctx } = setup({ clearance: clearance({ unlabeled: { policy: NATO, classification: 1 } }) });
  const iq = parseXml(`<iq xmlns='jabber:server' type='get' id='cat1' from='a.example' to='b.example'><catalog xmlns='urn:xmpp:sec-label:catalog:2' to='b.example' from='alice@a.example'/></iq>`);
  t.is(hook.outbound(iq, link, ctx), 'consumed');
  t.is(replies.length, 1);
  const r = replies[0];
  t.like(r.attrs, { type: 'result', id: 'cat1', from: 'b.example', to: 'a.example' });
  const cat = r.getChild('catalog', 'urn:xmpp:sec-label:catalog:2')!;
  t.like(cat.attrs, { to: 'b.example', restrict: 'true' });
  const items = cat.getChildren('item');
  t.deepEqual(items.map((i) => i.attr('selector')), ['UNMARKED', 'UNCLASSIFIED', 'RESTRICTED']);
  t.deepEqual(items.map((i) => parseSecurityLabel(i.getChild('securitylabel')!).label!.classification), [0, 1, 2]);
  t.is(items.filter((i) => i.attr('default') === 'true').length, 1);
  t.is(items[1].attr('default'), 'true');
  t.is(metrics.get('label_catalog_answers_total', { link: 'shore' }), 1);
  // without a clearance the request crosses like any other iq
  const none = setup();
  t.is(none.hook.outbound(iq, link, none.ctx), iq);
});

import test from 'ava';
import { PolicyHook, type PolicySettings } from '../../src/policy/index.ts';
import { parseXml } from '../../src/xml/index.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import type { RelayLink } from '../../src/link/port.ts';

const link = { name: 'shore', domains: ['b.example'] } as unknown as RelayLink;
const base: PolicySettings = { allow: ['*'], block: [], blockNamespaces: [], drop: [] };
const hook = (s: Partial<PolicySettings>, metrics = new Metrics()) => new PolicyHook({ ...base, ...s }, { metrics });

const chat = (extra = '') =>
  parseXml(`<message xmlns='jabber:server' from='alice@a.example/phone' to='bob@b.example' id='m1' type='chat'><body>hi</body>${extra}</message>`);

test('everything passes untouched with the default policy', (t) => {
  const s = chat(`<active xmlns='http://jabber.org/protocol/chatstates'/>`);
  t.is(hook({}).outbound(s, link), s);
});

test('blocked domain and a domain outside allow are refused with not-allowed', (t) => {
  const m = new Metrics();
  const r1 = hook({ block: ['b.example'] }, m).outbound(chat(), link);
  t.true(r1 instanceof StanzaError);
  t.is((r1 as StanzaError).condition, 'not-allowed');
  const r2 = hook({ allow: ['*.example.org'] }).outbound(chat(), link);
  t.is((r2 as StanzaError).condition, 'not-allowed');
  t.is(m.get('drops_total', { reason: 'policy_domain_blocked' }), 1);
});

test('blocked namespaces (by alias or URI, at any depth) are refused with policy-violation', (t) => {
  const jingle = parseXml(`<iq xmlns='jabber:server' type='set' id='j1' from='alice@a.example/x' to='bob@b.example/y'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/></iq>`);
  const r = hook({ blockNamespaces: ['jingle'] }).outbound(jingle, link);
  t.is((r as StanzaError).condition, 'policy-violation');
  const si = parseXml(`<iq xmlns='jabber:server' type='set' id='f1' to='bob@b.example/y'><query xmlns='urn:example'><si xmlns='http://jabber.org/protocol/si'/></query></iq>`);
  t.true(hook({ blockNamespaces: ['file-transfer'] }).outbound(si, link) instanceof StanzaError);
  t.is(hook({ blockNamespaces: ['urn:other'] }).outbound(si, link), si);
});

test('a bare chat state is consumed; a chat state beside a body is stripped', (t) => {
  const m = new Metrics();
  const h = hook({ drop: ['chatstates'] }, m);
  const bare = parseXml(`<message xmlns='jabber:server' from='alice@a.example/p' to='bob@b.example' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='x'/></message>`);
  t.is(h.outbound(bare, link), 'consumed');
  const withBody = chat(`<active xmlns='http://jabber.org/protocol/chatstates'/>`);
  const out = h.outbound(withBody, link) as ReturnType<typeof parseXml>;
  t.is(out.getChild('active'), undefined);
  t.is(out.getChildText('body'), 'hi');
  t.is(out.raw, undefined, 'edited stanza is re-serialized');
  t.truthy(withBody.getChild('active'), 'the original is not mutated');
  t.is(m.get('policy_drops_total', { reason: 'chatstates' }), 2);
});

test('XHTML-IM is stripped and the plain body kept; inbound applies the same rules', (t) => {
  const s = chat(`<html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></body></html>`);
  const out = hook({ drop: ['xhtml'] }).inbound(s, link);
  t.true(Array.isArray(out));
  const [el] = out as ReturnType<typeof parseXml>[];
  t.is(el.getChild('html'), undefined);
  t.regex(el.toString(), /<body>hi<\/body>/);
});

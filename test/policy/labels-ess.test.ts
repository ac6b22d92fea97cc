/** ESS security labels (RFC 2634 §5.4) and the XEP-0258 <securitylabel/> reader. */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { parseXml } from '../../src/xml/index.ts';
import {
  decodeEss, encodeEss, LabelError, parseSecurityLabel, buildSecurityLabel, describeLabel, specToEss,
} from '../../src/policy/labels/index.ts';

test('the ESS labels printed in XEP-0258 decode: SET members found by tag, whatever their order', (t) => {
  t.like(decodeEss(Buffer.from('MQYCAQQGASk=', 'base64')), { policy: '1.1', classification: 4, privacyMark: undefined, categories: [] });
  t.like(decodeEss(Buffer.from('MRUCAgD9DA9BcXVhIChvYnNvbGV0ZSk=', 'base64')), { policy: undefined, classification: 253, privacyMark: 'Aqua (obsolete)' });
  t.like(decodeEss(Buffer.from('MQMGASk=', 'base64')), { policy: '1.1', classification: undefined });
});

test('encode then decode keeps policy, classification, privacy mark and categories; the DER is what openssl reads', (t) => {
  const label = specToEss({ policy: '1.3.6.1.4.1.99999.1', classification: 2, privacy_mark: 'SHIP ONLY', categories: ['1.3.6.1.4.1.99999.2.1=NATO', '1.3.6.1.4.1.99999.2.2=int:7'] });
  const der = encodeEss(label);
  const back = decodeEss(der);
  t.is(back.policy, '1.3.6.1.4.1.99999.1');
  t.is(back.classification, 2);
  t.is(back.privacyMark, 'SHIP ONLY');
  t.deepEqual(back.categories.map((c) => `${c.type}=${c.value}`).sort(), ['1.3.6.1.4.1.99999.2.1=NATO', '1.3.6.1.4.1.99999.2.2=int:7']);
  t.true(encodeEss(back).equals(der), 'a decoded label encodes to the same bytes');
  // DER (X.690 §10.3, X.680 §8.6): members sorted by tag number: INTEGER 2, OID 6, SET 17, PrintableString 19
  const parsed = execFileSync('openssl', ['asn1parse', '-inform', 'DER'], { input: der }).toString();
  const tags = [...parsed.matchAll(/d=1\s+hl=\d+\s+l=\s*\d+\s+(?:prim|cons):\s+(\w+)/g)].map((m) => m[1]);
  t.deepEqual(tags, ['INTEGER', 'OBJECT', 'SET', 'PRINTABLESTRING']);
  t.regex(parsed, /:1\.3\.6\.1\.4\.1\.99999\.1/);
  // a privacy mark outside PrintableString goes as UTF8String
  t.is(decodeEss(encodeEss({ policy: '1.2.3', privacyMark: 'Übung', categories: [] })).privacyMark, 'Übung');
});

test('bad DER is refused with LabelError ESS_BAD_LABEL, never read as "no label"', (t) => {
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['not a SET', Buffer.from('3003060129', 'hex')],
    ['truncated', Buffer.from('31060201040601', 'hex')],
    ['trailing bytes', Buffer.from('310306012900', 'hex')],
    ['two policies', Buffer.from('3106060129060129', 'hex')],
    ['classification 300', Buffer.from('310402020' + '12c', 'hex')],
    ['negative classification', Buffer.from('3103020180', 'hex')],
    ['unknown member (BOOLEAN)', Buffer.from('31030101ff', 'hex')],
    ['category without [0] type', Buffer.from('3108310630040601290500', 'hex')],
    ['garbage', Buffer.from('not der at all')],
  ];
  for (const [what, der] of bad) t.throws(() => decodeEss(der), { instanceOf: LabelError, code: 'ESS_BAD_LABEL' }, what);
});

const SL = (inner: string): string => `<message xmlns='jabber:server'><securitylabel xmlns='urn:xmpp:sec-label:0'>${inner}</securitylabel></message>`;
const read = (inner: string) => parseSecurityLabel(parseXml(SL(inner)).getChild('securitylabel')!);

test('<securitylabel/>: display marking, ESS label, equivalent labels, the XML (IC-ISM style) form, an empty label', (t) => {
  const sl = read(`<displaymarking fgcolor='black' bgcolor='red'>SECRET</displaymarking>
    <label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>
      MQYCAQQGASk=
    </esssecuritylabel></label>
    <equivalentlabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MRUCAgD9DA9BcXVhIChvYnNvbGV0ZSk=</esssecuritylabel></equivalentlabel>`);
  t.deepEqual(sl.marking, { text: 'SECRET', fg: 'black', bg: 'red' });
  t.like(sl.label, { form: 'ess', policy: '1.1', classification: 4 });
  t.is(sl.equivalents.length, 1);
  t.is(sl.equivalents[0].classification, 253);
  t.is(describeLabel(sl.label, sl.marking), '1.1/4 SECRET');

  const xml = read(`<displaymarking>SECRET</displaymarking><label><icismlabel xmlns='http://example.gov/IC-ISM/0' classification='S' ownerProducer='USA GBR'/></label>`);
  t.deepEqual(xml.label, { form: 'xml', policy: 'http://example.gov/IC-ISM/0', classification: 4, categories: ['ownerProducer=USA', 'ownerProducer=GBR'] });

  t.is(read(`<label/>`).label, null, 'an empty <label/> is the policy default (XEP-0258 §3)');
});

test('a <securitylabel/> that breaks XEP-0258 §3 is unparseable', (t) => {
  const bad = [
    '', // no label
    '<displaymarking>X</displaymarking>',
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQYCAQQGASk=</esssecuritylabel></label><label/>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>!!not base64!!</esssecuritylabel></label>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>AAAA</esssecuritylabel></label>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'/></label>`,
    `<label><unknown xmlns='urn:example:x'/></label>`,
    `<label><icismlabel xmlns='http://example.gov/IC-ISM/0' classification='Z'/></label>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQMGASk=</esssecuritylabel><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQMGASk=</esssecuritylabel></label>`,
    `<label>SECRET</label>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQMGASk=</esssecuritylabel></label><equivalentlabel/>`,
    `<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQMGASk=</esssecuritylabel></label><foo/>`,
  ];
  for (const inner of bad) t.throws(() => read(inner), { instanceOf: LabelError, code: 'LABEL_UNPARSEABLE' }, inner || '(empty)');
});

test('buildSecurityLabel writes a label that reads back, in the XEP-0258 namespaces', (t) => {
  const el = buildSecurityLabel(specToEss({ policy: '1.3.6.1.4.1.99999.1', classification: 2 }), { text: 'RESTRICTED', bg: 'aqua' });
  const xml = el.toString();
  t.regex(xml, /^<securitylabel xmlns="urn:xmpp:sec-label:0"><displaymarking bgcolor="aqua">RESTRICTED<\/displaymarking><label><esssecuritylabel xmlns="urn:xmpp:sec-label:ess:0">/);
  const back = parseSecurityLabel(parseXml(xml));
  t.like(back.label, { policy: '1.3.6.1.4.1.99999.1', classification: 2 });
});

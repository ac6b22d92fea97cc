import test from 'ava';
import { createHash } from 'node:crypto';
import { parseXml } from '../../src/xml/index.ts';
import { capsVerificationString, computeCapsVer, verifyCapsVer } from '../../src/optimize/index.ts';
import { conversations, dino, gajim, queryXml, verOf, DISCO } from './fixtures.ts';

// XEP-0115 §5.2 (simple generation example).
const simple = parseXml(
  `<query xmlns='${DISCO}' node='http://code.google.com/p/exodus#QgayPKawpkPSDYmwT/WM94uAlu0='>` +
    `<identity category='client' name='Exodus 0.9.1' type='pc'/><feature var='http://jabber.org/protocol/caps'/>` +
    `<feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/>` +
    `<feature var='http://jabber.org/protocol/muc'/></query>`,
);

// XEP-0115 §5.3 (complex generation example), in a different child order than sorted.
const complex = parseXml(`<query xmlns='${DISCO}' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='software_version'><value>0.11</value></field>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version' type='text-multi'><value>ipv6</value><value>ipv4</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
  </x>
</query>`);

const S_COMPLEX =
  'client/pc/el/Ψ 0.11<client/pc/en/Psi 0.11<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<' +
  'http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<urn:xmpp:dataforms:softwareinfo<' +
  'ip_version<ipv4<ipv6<os<Mac<os_version<10.5.1<software<Psi<software_version<0.11<';

test('XEP-0115 §5.2 simple example: S and ver QgayPKawpkPSDYmwT/WM94uAlu0=', (t) => {
  t.is(
    capsVerificationString(simple),
    'client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<',
  );
  t.is(computeCapsVer(simple), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
  t.is(verifyCapsVer(simple, 'QgayPKawpkPSDYmwT/WM94uAlu0='), 'sha-1');
});

test('XEP-0115 §5.3 complex example (xml:lang identities, extended form): ver q07IKJEyjvHSyhy//CH0CxmKi8w=', (t) => {
  t.is(capsVerificationString(complex), S_COMPLEX);
  t.is(computeCapsVer(complex, 'sha-1'), 'q07IKJEyjvHSyhy//CH0CxmKi8w=');
  t.is(verifyCapsVer(complex, 'q07IKJEyjvHSyhy//CH0CxmKi8w='), 'sha-1');
});

test('sha-256 per the hash attribute, checked against an independent digest of S', (t) => {
  const want = createHash('sha256').update(S_COMPLEX, 'utf8').digest('base64');
  t.is(computeCapsVer(complex, 'sha-256'), want);
  t.is(verifyCapsVer(complex, want, ['sha-256']), 'sha-256');
  t.is(verifyCapsVer(complex, want, ['sha-1']), undefined);
  t.is(computeCapsVer(complex, 'md5'), undefined);
});

test('real client answers (Conversations, Gajim, Dino) verify against a hand-built S; a changed feature does not', (t) => {
  for (const c of [conversations, gajim, dino]) {
    const q = parseXml(queryXml(c));
    t.is(verifyCapsVer(q, verOf(c)), 'sha-1', c.node);
    t.is(verifyCapsVer(q, verOf(c, 'sha256')), 'sha-256', c.node);
    t.is(verifyCapsVer(parseXml(queryXml(c, undefined, 'urn:xmpp:jingle:apps:rtp:video:evil')), verOf(c)), undefined, c.node);
  }
});

test('§5.4 ill-formed answers never verify: duplicate feature, duplicate identity, duplicate FORM_TYPE', (t) => {
  const base = `<identity category='client' type='pc' name='X'/><feature var='urn:a'/>`;
  const dupFeature = parseXml(`<query xmlns='${DISCO}'>${base}<feature var='urn:a'/></query>`);
  const dupIdentity = parseXml(`<query xmlns='${DISCO}'>${base}<identity category='client' type='pc' name='X'/></query>`);
  const form = `<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:f</value></field></x>`;
  const dupForm = parseXml(`<query xmlns='${DISCO}'>${base}${form}${form}</query>`);
  for (const q of [dupFeature, dupIdentity, dupForm]) {
    t.throws(() => capsVerificationString(q), { code: 'SATRELAY_CAPS_ILL_FORMED' });
    t.is(verifyCapsVer(q, 'QgayPKawpkPSDYmwT/WM94uAlu0='), undefined);
  }
});

test('a form whose FORM_TYPE is not hidden is ignored (§5.4), a hidden one is hashed', (t) => {
  const ident = `<identity category='client' type='pc' name='X'/>`;
  const shown = parseXml(`<query xmlns='${DISCO}'>${ident}<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:f</value></field><field var='a'><value>1</value></field></x></query>`);
  const hidden = parseXml(`<query xmlns='${DISCO}'>${ident}<x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:f</value></field><field var='a'><value>1</value></field></x></query>`);
  t.is(capsVerificationString(shown), 'client/pc//X<');
  t.is(capsVerificationString(hidden), 'client/pc//X<urn:f<a<1<');
});

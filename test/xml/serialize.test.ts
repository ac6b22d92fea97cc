import test from 'ava';
import { run, buf, HEADER, tree } from './_feed.ts';
import { serialize, toWire } from '../../src/xml/serialize.ts';
import { x, XmlElement } from '../../src/xml/element.ts';
import { NS } from '../../src/xmpp/ns.ts';

const parseStream = (body: string | Buffer): XmlElement[] => {
  const r = run([Buffer.concat([buf(HEADER), buf(body)])]);
  if (r.errors) throw new Error(JSON.stringify(r.events));
  return r.stanzas;
};

const SRC =
  "<message to='b@b.example' xml:lang='en' a='tab&#9;nl&#10;cr&#13;end'><body>a &amp; b &lt; c &gt; d\u00e9&#13;</body>" +
  "<x xmlns='jabber:x:data'><field var='q&quot;&apos;'/></x><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><p>hi</p></body></html></message>";

test('unedited stanza: toWire is the raw bytes', (t) => {
  const [m] = parseStream(SRC);
  t.true(toWire(m, NS.SERVER).equals(buf(SRC)));
});

test('round trip: parse -> edit -> serialize -> parse gives the same tree', (t) => {
  const [m] = parseStream(SRC);
  t.is(m.attr('a'), 'tab\tnl\ncr\rend');
  t.is(m.getChildText('body'), 'a & b < c > d\u00e9\r');
  m.setAttr('id', 'x<&>"\'\n');
  m.append(new XmlElement('error', { type: 'cancel' }, [x('service-unavailable', { xmlns: NS.STANZAS_ERR })], NS.SERVER));
  m.getChild('body')!.children.push(' more <text> & \u{1F600}');
  m.touch();
  t.is(m.raw, undefined);
  const out = serialize(m, NS.SERVER);
  const [again] = parseStream(out);
  t.deepEqual(tree(again), tree(m));
  t.is(again.getChild('x', 'jabber:x:data')!.ns, 'jabber:x:data', 'child in another namespace keeps its xmlns');
  t.is(again.attr('xml:lang'), 'en');
  t.is(again.getChild('error')!.getChild('service-unavailable')!.ns, NS.STANZAS_ERR);
});

test('an element built by x() without xmlns inherits the namespace in scope', (t) => {
  const m = x('message', { to: 'b@b.example' }, x('body', {}, 'hi'), x('error', { type: 'cancel' }));
  const out = serialize(m, NS.SERVER);
  t.is(out, '<message to="b@b.example"><body>hi</body><error type="cancel"/></message>');
  const [again] = parseStream(out);
  t.is(again.getChild('error')!.ns, NS.SERVER);
});

test('elements built with ns but no xmlns attribute get a declaration where needed', (t) => {
  const caps = new XmlElement('c', { hash: 'sha-1' }, [], NS.CAPS);
  const p = new XmlElement('presence', { from: 'a@a.example' }, [caps, new XmlElement('show', {}, ['away'], NS.SERVER)], NS.SERVER);
  const out = serialize(p, NS.SERVER);
  t.is(out, `<presence from="a@a.example"><c xmlns="${NS.CAPS}" hash="sha-1"/><show>away</show></presence>`);
  const [again] = parseStream(out);
  t.deepEqual(again.getChild('c')!.ns, NS.CAPS);
  t.is(again.getChild('show')!.ns, NS.SERVER);
});

test('stanza relying on header prefix and xml:lang re-serializes self-contained after an edit', (t) => {
  const hdr = `<stream:stream xmlns='jabber:server' xmlns:db='${NS.DIALBACK}' xmlns:stream='${NS.STREAM}' xml:lang='fr'>`;
  const r = run([buf(hdr + "<db:result from='a' to='b'>k</db:result>")]);
  const db = r.stanzas[0];
  db.setAttr('type', 'valid');
  const out = serialize(db, NS.SERVER);
  const again = run([buf(out)], { implicitStream: { defaultNs: NS.SERVER } }).stanzas[0];
  t.deepEqual(tree(again), tree(db));
  t.is(again.ns, NS.DIALBACK);
  t.is(again.attr('xml:lang'), 'fr');
});

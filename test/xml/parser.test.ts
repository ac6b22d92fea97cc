import test from 'ava';
import { feedAll, run, buf, HEADER, errorOf, tree, byteByByte } from './_feed.ts';
import { parseXml, StreamParser as SP } from '../../src/xml/parser.ts';
import { StreamError } from '../../src/xmpp/errors.ts';
import { NS } from '../../src/xmpp/ns.ts';

const M1 = "<message to='b@b.example' from='a@a.example' type='chat' id='m1'><body>hi &amp; &lt;bye&gt; &#x263A;</body></message>";
const P1 = "<presence from='a@a.example/r'><show>away</show><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>";
const I1 = "<iq type='get' id='i1'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>";

test('normal stream: header, several stanzas with whitespace keepalives, close', (t) => {
  const r = feedAll(t, `${HEADER}\n${M1} ${P1}\r\n\t${I1}  </stream:stream>`);
  t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'stanza', 'stanza', 'close']);
  t.deepEqual(r.events[0][1], {
    xmlns: 'jabber:server', 'xmlns:stream': NS.STREAM, to: 'b.example', from: 'a.example', version: '1.0',
  });
  const [m, p, iq] = r.stanzas;
  t.is(m.name, 'message');
  t.is(m.ns, NS.SERVER);
  t.is(m.attr('id'), 'm1');
  t.is(m.getChildText('body'), 'hi & <bye> \u263A');
  t.is(p.getChild('c')!.ns, NS.CAPS);
  t.is(p.getChild('c')!.attr('xmlns'), NS.CAPS, 'declarations are kept in attrs as written');
  t.is(p.getChild('show')!.ns, NS.SERVER);
  t.is(iq.getChild('query', NS.DISCO_INFO)!.local, 'query');
});

test('raw is the exact received bytes of each stanza', (t) => {
  const r = feedAll(t, `${HEADER}${M1}\n${P1}${I1}`);
  t.is(r.stanzas.length, 3);
  t.true(r.stanzas[0].raw!.equals(buf(M1)));
  t.true(r.stanzas[1].raw!.equals(buf(P1)));
  t.true(r.stanzas[2].raw!.equals(buf(I1)));
  t.is(r.stanzas[0].toString(), M1, 'unedited stanza serializes to its raw bytes');
});

test('multi-byte UTF-8 split across chunks (emoji, CJK) in text, attributes and names', (t) => {
  const st = "<message to='日本@b.example'><body>😀 漢字 é 𝄞</body><日本語 xmlns='urn:x'>テスト</日本語></message>";
  const r = feedAll(t, HEADER + st + st);
  t.is(r.stanzas.length, 2);
  t.is(r.stanzas[0].getChildText('body'), '😀 漢字 é 𝄞');
  t.is(r.stanzas[0].attr('to'), '日本@b.example');
  t.is(r.stanzas[0].getChild('日本語', 'urn:x')!.text(), 'テスト');
  t.true(r.stanzas[1].raw!.equals(buf(st)), 'raw byte offsets survive multi-byte characters before the stanza');
});

test('raw is exact when the start tag name ends in CR LF, CR or LF (line-end normalization)', (t) => {
  const sts = ["<message\r\nto='a'><body>x\r\ny</body></message>", "<iq\rtype='get'/>", "<presence\n/>", "<message\t\r\n><x\r\n/></message>"];
  const r = feedAll(t, HEADER + sts.join('\r\n'));
  t.is(r.stanzas.length, sts.length);
  sts.forEach((s, i) => t.true(r.stanzas[i].raw!.equals(buf(s)), JSON.stringify(s)));
  t.is(r.stanzas[0].getChildText('body'), 'x\ny', 'text is normalized, raw is not');
});

test('stanza inherits header prefixes and xml:lang: raw is made self-contained', (t) => {
  const hdr = "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' xmlns:stream='http://etherx.jabber.org/streams' xml:lang='en'>";
  const r = feedAll(t, hdr + "<db:result from='a.example' to='b.example'>abc</db:result><message xml:lang='de'><body>x</body></message><iq/>");
  const [db, msg, iq] = r.stanzas;
  t.is(db.ns, NS.DIALBACK);
  t.is(db.attr('xmlns:db'), NS.DIALBACK);
  t.is(db.attr('xml:lang'), 'en');
  t.is(db.raw!.toString(), `<db:result xmlns:db="jabber:server:dialback" xml:lang="en" from='a.example' to='b.example'>abc</db:result>`);
  t.is(msg.attr('xml:lang'), 'de', 'own xml:lang kept');
  t.is(msg.raw!.toString(), "<message xml:lang='de'><body>x</body></message>");
  t.is(iq.raw!.toString(), '<iq xml:lang="en"/>');
  // raw alone parses to the same tree (in a stream with the same content namespace)
  const again = run([buf(db.raw!), buf(iq.raw!)], { implicitStream: { defaultNs: NS.SERVER } });
  t.deepEqual(again.stanzas.map(tree), [tree(db), tree(iq)]);
});

test('restricted XML: DTD before the header', (t) => {
  const r = feedAll(t, `<?xml version='1.0'?><!DOCTYPE stream:stream><stream:stream xmlns:stream='${NS.STREAM}' xmlns='jabber:server'>`);
  t.deepEqual(r.events, [['error', 'restricted-xml']]);
});

test('restricted XML: billion laughs is refused, never expanded', (t) => {
  let dtd = '<!DOCTYPE lolz [<!ENTITY lol "lol">';
  for (let i = 1; i < 10; i++) dtd += `<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`;
  dtd += ']>';
  const r = feedAll(t, `<?xml version="1.0"?>${dtd}<lolz>&lol9;</lolz>`);
  t.deepEqual(r.events, [['error', 'restricted-xml']]);
  const inStream = feedAll(t, `${HEADER}${dtd}<message>&lol9;</message>`);
  t.deepEqual(inStream.events.map((e) => e[0]), ['open', 'error']);
  t.is(errorOf(inStream), 'restricted-xml');
});

test('restricted XML: comments inside and between stanzas, processing instructions', (t) => {
  for (const bad of [`${M1}<!-- hi -->`, '<message><!-- hi --><body/></message>', '<message><?php x ?></message>', '<?foo bar?>']) {
    const r = feedAll(t, HEADER + bad);
    t.is(errorOf(r), 'restricted-xml', bad);
    t.is(r.stanzas.length, bad.startsWith(M1) ? 1 : 0, 'stanza before the violation is delivered');
  }
  t.is(errorOf(feedAll(t, `<!-- c -->${HEADER}`)), 'restricted-xml');
});

test('unknown entity reference is not-well-formed; predefined and numeric ones decode', (t) => {
  t.is(errorOf(feedAll(t, `${HEADER}<message><body>&nbsp;</body></message>`)), 'not-well-formed');
  const ok = feedAll(t, `${HEADER}<message a='&quot;&apos;'><body>&#65;&#x42;&lt;&gt;&amp;</body></message>`);
  t.is(ok.stanzas[0].getChildText('body'), 'AB<>&');
  t.is(ok.stanzas[0].attr('a'), `"'`);
});

test('not-well-formed: mismatched tags, bad characters, garbage after the error is ignored', (t) => {
  const cases = [
    '<message><body></message>',
    '<message></iq>',
    '<message><body>\u0001</body></message>',
    '<message a="1" a="2"/>',
    '<message a=1/>',
    '<mess age/>x<',
    '</stream:stream2>',
    '<message><body>]]></body></message>',
  ];
  for (const c of cases) {
    const r = feedAll(t, HEADER + M1 + c, { after: buf(`${M1}</stream:stream>`) });
    t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'error'], c);
    t.is(errorOf(r), 'not-well-formed', c);
    t.is(r.errors, 1);
  }
});

test('invalid UTF-8 is not-well-formed, reported after the valid prefix', (t) => {
  for (const bad of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe0, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe6, 0x97, 0x41]]) {
    const input = Buffer.concat([buf(HEADER + M1 + '<message><body>'), Buffer.from(bad), buf('</body></message>')]);
    const r = feedAll(t, input);
    t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'error'], Buffer.from(bad).toString('hex'));
    t.is(errorOf(r), 'not-well-formed');
  }
});

test('declared non-UTF-8 encoding is unsupported-encoding; UTF-8 declared or BOM is fine', (t) => {
  const r = feedAll(t, `<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream xmlns:stream='${NS.STREAM}'>`);
  t.deepEqual(r.events, [['error', 'unsupported-encoding']]);
  const ok = feedAll(t, `\uFEFF<?xml version='1.0' encoding='UTF-8'?>${HEADER.slice(HEADER.indexOf('<stream'))}${M1}`);
  t.deepEqual(ok.events.map((e) => e[0]), ['open', 'stanza']);
});

test('wrong stream namespace or name is invalid-namespace', (t) => {
  for (const h of [
    "<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:server'>",
    "<stream xmlns='jabber:server'>",
    `<s:streams xmlns:s='${NS.STREAM}'>`,
    `<stream:stream xmlns:stream='${NS.STREAM}/'>`,
  ]) {
    t.deepEqual(feedAll(t, h + M1).events, [['error', 'invalid-namespace']], h);
  }
  const other = feedAll(t, `<st:stream xmlns:st='${NS.STREAM}' xmlns='jabber:server'>${M1}`);
  t.deepEqual(other.events.map((e) => e[0]), ['open', 'stanza'], 'any prefix bound to the streams namespace is accepted');
});

test('undeclared prefix is bad-namespace-prefix (header, stanza, attribute)', (t) => {
  t.deepEqual(feedAll(t, "<stream:stream xmlns='jabber:server'>").events, [['error', 'bad-namespace-prefix']]);
  for (const s of ['<db:result/>', '<message><x:y/></message>', "<message foo:bar='1'/>"]) {
    const r = feedAll(t, HEADER + M1 + s);
    t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'error']);
    t.is(errorOf(r), 'bad-namespace-prefix', s);
  }
});

test('non-whitespace text between stanzas is bad-format', (t) => {
  const r = feedAll(t, `${HEADER}${M1}hello${M1}`);
  t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'error']);
  t.is(errorOf(r), 'bad-format');
  t.is(errorOf(feedAll(t, `${HEADER}<![CDATA[x]]>${M1}`)), 'bad-format');
  const ws = feedAll(t, `${HEADER}<![CDATA[ ]]>${M1}`);
  t.true(ws.stanzas[0].raw!.equals(buf(M1)), 'whitespace CDATA between stanzas is ignored');
});

test('stream close: streamClose once, then input is ignored', (t) => {
  const r = feedAll(t, `${HEADER}${M1}</stream:stream>`, { after: buf(`${M1}garbage<<<`) });
  t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'close']);
  const r2 = feedAll(t, `${HEADER}${M1}</stream:stream>${M1}<!-- x -->`);
  t.deepEqual(r2.events.map((e) => e[0]), ['open', 'stanza', 'close']);
});

test('reset() after a STARTTLS/SASL-like restart: new header, new stanzas', (t) => {
  const proceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
  const hdr2 = HEADER.replace("from='a.example'", "from='a2.example'").replace("<?xml version='1.0'?>", '');
  const opts = { onStanza: (p: { reset(): void }, el: { local: string }) => el.local === 'proceed' && p.reset() };
  // the restarted stream's header and stanzas arrive in the same chunk(s) as <proceed/>
  const r = feedAll(t, `${HEADER}${proceed}${hdr2}${M1}</stream:stream>`, opts);
  t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'open', 'stanza', 'close']);
  t.is((r.events[2][1] as Record<string, string>).from, 'a2.example');
  t.true(r.stanzas[1].raw!.equals(buf(M1)), 'byte offsets restart with the new stream');
  // without reset() a restarted stream (XML declaration mid-stream) is an error
  t.is(errorOf(feedAll(t, `${HEADER}${proceed}<?xml version='1.0'?>${hdr2}`)), 'not-well-formed');
});

test('reset() clears a previous error and starts a fresh stream', (t) => {
  const events: string[] = [];
  const p = new SP({
    streamOpen: () => events.push('open'),
    stanza: (el) => events.push(el.name),
    error: (e) => events.push(e.condition),
  });
  p.write(buf(`${HEADER}<a></b>`));
  p.write(buf(M1));
  t.deepEqual(events, ['open', 'not-well-formed']);
  p.reset();
  p.write(buf(HEADER + M1));
  t.deepEqual(events, ['open', 'not-well-formed', 'open', 'message']);
});

test('implicitStream (XEP-0361): no header, every top-level element a stanza in the default namespace', (t) => {
  const opts = { implicitStream: { defaultNs: NS.SERVER } };
  const r = feedAll(t, `${M1}\n${P1}<message xmlns='jabber:client'/>`, opts);
  t.deepEqual(r.events.map((e) => e[0]), ['stanza', 'stanza', 'stanza']);
  t.is(r.stanzas[0].ns, NS.SERVER);
  t.is(r.stanzas[2].ns, NS.CLIENT);
  t.true(r.stanzas[1].raw!.equals(buf(P1)));
  t.is(errorOf(feedAll(t, `${M1}</stream:stream>`, opts)), 'not-well-formed');
  t.is(errorOf(feedAll(t, `${M1}<!DOCTYPE x>`, opts)), 'restricted-xml');
  t.is(errorOf(feedAll(t, `${M1}<db:result/>`, opts)), 'bad-namespace-prefix');
});

test('parseXml: one strict fragment, throws typed StreamError', (t) => {
  const el = parseXml("<iq xmlns='jabber:client' type='get'><query xmlns='jabber:iq:roster'/></iq>");
  t.is(el.ns, NS.CLIENT);
  t.is(el.getChild('query')!.ns, 'jabber:iq:roster');
  t.is(parseXml('<a/>').ns, '');
  for (const [bad, cond] of [['<a><b></a>', 'not-well-formed'], ['<a/><b/>', 'not-well-formed'], ['<a>', 'not-well-formed'], ['', 'not-well-formed'], ['<a><!-- c --></a>', 'restricted-xml'], ['<p:a/>', 'bad-namespace-prefix']]) {
    const err = t.throws(() => parseXml(bad), { instanceOf: StreamError }, bad);
    t.is(err?.condition as string | undefined, cond, bad);
  }
});

test('bytesInStanza counts the stanza being received', (t) => {
  const seen: number[] = [];
  const p = new SP({ stanza: () => seen.push(p.bytesInStanza), error: () => t.fail() });
  for (const c of byteByByte(buf(HEADER))) p.write(c);
  t.is(p.bytesInStanza, 0);
  p.write(buf('<message><bo'));
  t.is(p.bytesInStanza, 12);
  p.write(buf('dy/></message>'));
  t.is(p.bytesInStanza, 0);
  t.is(seen.length, 1);
});

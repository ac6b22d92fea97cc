/**
 * The parser's fast path (src/xml/fast.ts) against the full saxes path: on
 * generated well-formed stanzas they give the same events (tree, raw bytes),
 * whole, split and byte by byte; on malformed input the fast path never
 * accepts what saxes refuses and the stream error is the one saxes gives.
 */
import test from 'ava';
import fc from 'fast-check';
import { run, buf, byteByByte, errorOf, tree, HEADER, type FeedOptions } from './_feed.ts';
import { readFragments } from '../../src/xml/fragments.ts';
import { fastStanza } from '../../src/xml/fast.ts';
import { StreamParser } from '../../src/xml/parser.ts';
import { escapeTextExact, escapeAttrExact } from '../../src/xml/serialize.ts';
import { NS } from '../../src/xmpp/ns.ts';

const SEED = Number(process.env.XML_PROP_SEED ?? 20261203);
const LIM = { maxDepth: 64, maxAttributes: 64 };

// Text with everything the escapes turn into entities and character references.
const textArb = fc.array(fc.constantFrom('a', ' ', '&', '<', '>', '\n', '\r', '\t', 'é', '漢', '😀', '"', "'", ']', ']]', '\u0085'), { maxLength: 10 }).map((a) => a.join(''));
const nameArb = fc.constantFrom('message', 'body', 'x', 'a-b', '_q.1', 'active');
const wsArb = fc.constantFrom(' ', '  ', '\n', '\t ');
/** An element of the common shape: unprefixed names, plain / xmlns / xml:lang attributes, either quote. */
const elArb: fc.Arbitrary<string> = fc.letrec<{ el: string }>((tie) => ({
  el: fc
    .tuple(
      nameArb,
      fc.array(fc.tuple(fc.constantFrom('id', 'to', 'from', 'type', 'xml:lang', 'xmlns'), textArb, fc.boolean(), wsArb), { maxLength: 4 }),
      fc.array(fc.oneof({ depthSize: 'small' }, textArb.map(escapeTextExact), tie('el')), { maxLength: 3 }),
      fc.constantFrom('', ' ', '\n'),
    )
    .map(([name, attrs, kids, tail]) => {
      const seen = new Set<string>();
      let a = '';
      for (const [k, v, dq, ws] of attrs) {
        if (seen.has(k)) continue;
        seen.add(k);
        const val = k === 'xmlns' ? `urn:x:${v.length}` : escapeAttrExact(v);
        a += dq ? `${ws}${k}="${val.replace(/"/g, '&quot;')}"` : `${ws}${k}='${val.replace(/'/g, '&apos;')}'`;
      }
      return kids.length ? `<${name}${a}${tail}>${kids.join('')}</${name}${tail}>` : `<${name}${a}${tail}/>`;
    }),
})).el;

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const both = (chunks: Buffer[], o: FeedOptions): [ReturnType<typeof run>, ReturnType<typeof run>] => [run(chunks, o), run(chunks, { ...o, fastPath: false })];

test('the fast path reads every generated stanza of the common shape itself, with the tree saxes gives', (t) => {
  fc.assert(
    fc.property(elArb, (el) => {
      const r = fastStanza(el, 0, NS.SERVER, LIM);
      if (typeof r === 'string') return false; // it bailed or wants more: the fast path was not exercised
      const saxes = run([buf(el)], { implicitStream: { defaultNs: NS.SERVER }, fastPath: false });
      const fast = run([buf(el)], { implicitStream: { defaultNs: NS.SERVER } });
      return r.end === el.length && saxes.errors === 0 && same(fast.events, saxes.events);
    }),
    { seed: SEED, numRuns: 400 },
  );
  t.pass();
});

test('fast and full parser agree on well-formed streams: whole, split and byte by byte, with xml:lang inherited', (t) => {
  const hdr = HEADER.replace("version='1.0'>", "version='1.0' xml:lang='en'>");
  fc.assert(
    fc.property(fc.array(elArb, { minLength: 1, maxLength: 5 }), fc.constantFrom('', ' ', '\r\n'), fc.nat(), fc.boolean(), (els, ws, cut, implicit) => {
      const b = buf((implicit ? '' : hdr) + els.join(ws));
      const o: FeedOptions = implicit ? { implicitStream: { defaultNs: NS.SERVER } } : {};
      const [fast, full] = both([b], o);
      const k = cut % (b.length + 1);
      return (
        full.errors === 0 &&
        full.stanzas.length === els.length &&
        same(fast.events, full.events) &&
        same(run([b.subarray(0, k), b.subarray(k)], o).events, full.events) &&
        same(run(byteByByte(b), o).events, full.events)
      );
    }),
    { seed: SEED + 1, numRuns: 250 },
  );
  t.pass();
});

test('malformed input: the fast path accepts nothing saxes refuses, and the stream error is the same', (t) => {
  const bad = ['<', '>', '&', '&foo;', '&#0;', '</x>', '<!-- c -->', '<?pi x?>', '<!DOCTYPE x>', '<![CDATA[x]]>', ']]>', '"', "'", '=', '\u0001', 'p:', ' xmlns:p="urn:p"'];
  const mutated = fc.tuple(fc.array(elArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...bad)), { minLength: 1, maxLength: 3 })).map(([els, muts]) => {
    let s = els.join('');
    for (const [at, del, ins] of muts) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + ins + s.slice(i + (del % 3));
    }
    return s;
  });
  fc.assert(
    fc.property(mutated, fc.boolean(), (s, implicit) => {
      const b = buf((implicit ? '' : HEADER) + s);
      const o: FeedOptions = implicit ? { implicitStream: { defaultNs: NS.SERVER } } : {};
      const [fast, full] = both([b], o);
      return same(fast.events, full.events) && same(run(byteByByte(b), o).events, full.events);
    }),
    { seed: SEED + 2, numRuns: 600 },
  );
  t.pass();
});

test('malformed stanzas get their stream error with the fast path on (RFC 6120 §4.9.3)', (t) => {
  const cases: Array<[string, string]> = [
    ["<message to='b.example'><body>hi</bodx></message>", 'not-well-formed'],
    ["<message to='b.example' to='c.example'/>", 'not-well-formed'],
    ["<message to='b.example'><body>a &nbsp; b</body></message>", 'not-well-formed'],
    ["<message to='b.example'><body>a &#0; b</body></message>", 'not-well-formed'],
    ["<message to='a<b'/>", 'not-well-formed'],
    ["<message to='b.example'x='1'/>", 'not-well-formed'],
    ["<message to='b.example'><body>a ]]> b</body></message>", 'not-well-formed'],
    ["<message to='b.example'><!-- hidden --></message>", 'restricted-xml'],
    ["<message to='b.example'><?pi data?></message>", 'restricted-xml'],
    ["<message to='b.example'><p:x/></message>", 'bad-namespace-prefix'],
    ['<message>text \u0001 here</message>', 'not-well-formed'],
  ];
  for (const [stanza, cond] of cases) {
    const good = "<message to='b.example'><body>before</body></message>";
    const r = run([buf(HEADER + good + stanza)]);
    t.is(r.stanzas.length, 1, stanza);
    t.is(errorOf(r), cond, stanza);
    t.is(errorOf(run(byteByByte(buf(HEADER + good + stanza)))), cond, `${stanza} byte by byte`);
  }
});

test('a stanza cut by the end of a write waits for the rest and counts in bytesInStanza', (t) => {
  const got: string[] = [];
  const p = new StreamParser({ stanza: (el) => got.push(el.raw!.toString()), error: (e) => t.fail(e.message) });
  p.write(buf(HEADER + "<message to='b.example'><body>hel"));
  t.deepEqual(got, []);
  t.is(p.bytesInStanza, "<message to='b.example'><body>hel".length);
  p.write(buf("lo</body></message>  <message to='b.example'/>"));
  t.deepEqual(got, ["<message to='b.example'><body>hello</body></message>", "<message to='b.example'/>"]);
  t.is(p.bytesInStanza, 0);
});

const FRAG = { maxStanzaBytes: 262144, maxHeaderBytes: 16384, ...LIM };
/** What readFragments gives, as the events a StreamParser run records (undefined: it left the buffer to the parser). */
const fragEvents = (b: Buffer, lim = FRAG): unknown[] | undefined => readFragments(b, NS.SERVER, lim)?.map((el) => ['stanza', tree(el), el.raw!.toString('hex')]);

test('stanzas back to back in one buffer: readFragments gives the stanzas, trees and raw bytes the stream parser gives', (t) => {
  fc.assert(
    fc.property(fc.array(elArb, { minLength: 1, maxLength: 5 }), fc.constantFrom('', ' ', '\r\n', '\n\n'), (els, ws) => {
      const b = buf(ws + els.join(ws) + ws);
      const full = run([b], { implicitStream: { defaultNs: NS.SERVER }, fastPath: false });
      const frag = fragEvents(b);
      return full.errors === 0 && frag !== undefined && same(frag, full.events);
    }),
    { seed: SEED + 3, numRuns: 300 },
  );
  t.pass();
});

test('readFragments leaves to the stream parser whatever it does not read the same (malformed, limits, bad UTF-8, nothing)', (t) => {
  const bad = ['<', '>', '&', '&foo;', '</x>', '<!-- c -->', '<?pi x?>', '<![CDATA[x]]>', ']]>', '"', '\u0001', 'p:', 'x'];
  const mutated = fc.tuple(fc.array(elArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.constantFrom(...bad)).map(([els, at, ins]) => {
    const s = els.join('');
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i);
  });
  fc.assert(
    fc.property(mutated, (s) => {
      const b = buf(s);
      const full = run([b], { implicitStream: { defaultNs: NS.SERVER } });
      const frag = fragEvents(b);
      // taken only when the parser takes it all the same, and ends outside a stanza
      return frag === undefined || (full.errors === 0 && same(frag, full.events));
    }),
    { seed: SEED + 4, numRuns: 600 },
  );
  t.is(fragEvents(buf('  \n ')), undefined, 'no stanza');
  t.is(fragEvents(Buffer.concat([buf("<message to='b.example'><body>"), Buffer.from([0xff]), buf('</body></message>')])), undefined, 'bad UTF-8');
  t.is(fragEvents(buf("<message to='b.example'/><message to='b.example'><body>cut")), undefined, 'ends inside a stanza');
  const two = "<message to='b.example'/> <message to='c.example'/>";
  t.is(fragEvents(buf(two), { ...FRAG, maxStanzaBytes: 20 }), undefined, 'a stanza over the limit');
  t.is(fragEvents(buf(two.replace('/> <', `/>${' '.repeat(40)}<`)), { ...FRAG, maxHeaderBytes: 30 }), undefined, 'too many bytes between stanzas');
  t.is(fragEvents(buf(two))?.length, 2);
});

test('children of a stanza the fast path read are built from its bytes on first use, also for a copy and after an edit', (t) => {
  const r = run([buf("<message to='b.example' id='m1'><body>a &amp; b</body><x xmlns='urn:x'><y/>t</x></message>")], { implicitStream: { defaultNs: NS.SERVER } });
  const el = r.stanzas[0];
  const copy = el.clone();
  el.setAttr('id', 'm2'); // an edit drops raw: the children are still there
  t.is(el.raw, undefined);
  t.is(el.getChildText('body'), 'a & b');
  t.is(el.getChild('x', 'urn:x')?.getChild('y')?.ns, 'urn:x');
  t.deepEqual(tree(copy).children, tree(el).children);
  t.is(copy.attr('id'), 'm1');
  t.truthy(copy.raw);
});

test('looking for a child of a stanza read lazily finds what building the children finds', (t) => {
  const read = (s: string) => run([buf(s)], { implicitStream: { defaultNs: NS.SERVER } }).stanzas[0];
  const s = "<message to='b.example'><fanouts xmlns='urn:f'/><body>&lt;fanout/&gt;</body><x xmlns='urn:f'><fanout xmlns='urn:g'/></x><c xmlns='urn:f'/></message>";
  for (const [local, ns] of [['fanout', undefined], ['fanouts', 'urn:f'], ['c', 'urn:f'], ['c', 'urn:other'], ['body', undefined], ['x', 'urn:f'], ['y', undefined]] as const) {
    const built = read(s);
    void built.children; // built first: the answer to compare with
    t.is(read(s).getChild(local, ns)?.name, built.getChild(local, ns)?.name, `${local} ${ns}`);
    t.is(read(s).getChildren(local, ns).length, built.getChildren(local, ns).length, `${local} ${ns}, all`);
  }
  t.is(read(s).getChild('fanout'), undefined, 'a deeper element is not a child');
});

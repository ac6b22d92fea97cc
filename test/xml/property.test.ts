import test from 'ava';
import fc from 'fast-check';
import { run, buf, HEADER, byteByByte, type FeedOptions } from './_feed.ts';
import { escapeTextExact, escapeAttrExact } from '../../src/xml/serialize.ts';
import { NS } from '../../src/xmpp/ns.ts';

// Seeded; on failure fast-check reports the seed and path. Override with XML_PROP_SEED.
const SEED = Number(process.env.XML_PROP_SEED ?? 20261123);

const textArb = fc.array(fc.constantFrom('a', ' ', '&', '<', '>', '\n', '\r', 'é', '漢', '😀', '"', "'", ']', '\t'), { maxLength: 12 }).map((a) => a.join(''));
const nameArb = fc.constantFrom('a', 'body', 'x', 'q:y', '名前');
const elArb: fc.Arbitrary<string> = fc.letrec<{ el: string }>((tie) => ({
  el: fc
    .tuple(
      nameArb,
      fc.array(fc.tuple(fc.constantFrom('id', 'to', 'xml:lang', 'q:at', 'type'), textArb), { maxLength: 3 }),
      fc.array(fc.oneof({ depthSize: 'small' }, textArb.map(escapeTextExact), tie('el')), { maxLength: 3 }),
      fc.boolean(),
    )
    .map(([name, attrs, kids, decl]) => {
      const seen = new Set<string>();
      let a = decl ? " xmlns:q='urn:q'" : '';
      for (const [k, v] of attrs) if (!seen.has(k)) (seen.add(k), (a += ` ${k}="${escapeAttrExact(v)}"`));
      return kids.length ? `<${name}${a}>${kids.join('')}</${name}>` : `<${name}${a}/>`;
    }),
})).el;
const streamArb = fc.tuple(fc.array(elArb, { minLength: 1, maxLength: 5 }), fc.constantFrom(' ', '\n', '', '\r\n  ')).map(
  ([els, ws]) => els.join(ws),
);
const optsArb: fc.Arbitrary<FeedOptions> = fc.record({
  maxStanzaBytes: fc.integer({ min: 20, max: 400 }),
  maxDepth: fc.integer({ min: 1, max: 6 }),
  maxAttributes: fc.integer({ min: 0, max: 5 }),
  maxHeaderBytes: fc.integer({ min: 100, max: 300 }),
});
const HDR_Q = HEADER.replace("version='1.0'>", "version='1.0' xmlns:q='urn:q'>");

function splitAt(b: Buffer, cuts: number[]): Buffer[] {
  const pts = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of pts) (out.push(b.subarray(prev, p)), (prev = p));
  out.push(b.subarray(prev));
  return out;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

test('random byte splits never change the result (valid streams, random limits)', (t) => {
  t.log(`seed ${SEED}`);
  fc.assert(
    fc.property(streamArb, optsArb, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (body, opts, cuts, implicit) => {
      const o: FeedOptions = implicit ? { ...opts, implicitStream: { defaultNs: NS.SERVER } } : opts;
      const b = buf(implicit ? body : HDR_Q + body);
      const whole = run([b], o);
      return whole.errors <= 1 && same(run(splitAt(b, cuts), o).events, whole.events) && same(run(byteByByte(b), o).events, whole.events);
    }),
    { seed: SEED, numRuns: 300 },
  );
  t.pass();
});

test('valid streams deliver every stanza; raw is the source bytes (plus header-bound declarations) and re-parses to the same tree', (t) => {
  fc.assert(
    fc.property(fc.array(elArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (els, cuts) => {
      const b = buf(HDR_Q + els.join('\n'));
      const r = run(splitAt(b, cuts));
      if (r.errors !== 0 || r.stanzas.length !== els.length) return false;
      return r.stanzas.every((st, i) => {
        let raw = st.raw!.toString();
        const splice = `<${st.name} xmlns:q="urn:q"`;
        if (raw.startsWith(splice) && !els[i].startsWith(splice)) raw = `<${st.name}` + raw.slice(splice.length);
        const again = run([st.raw!], { implicitStream: { defaultNs: NS.SERVER } });
        return raw === els[i] && again.errors === 0 && same(again.events[0], r.events[i + 1]);
      });
    }),
    { seed: SEED + 1, numRuns: 200 },
  );
  t.pass();
});

test('corrupted streams and random garbage never throw, error at most once, split-independent', (t) => {
  const mutated = fc
    .tuple(streamArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([body, muts]) => {
      const b = Buffer.from(buf(HDR_Q + body));
      for (const [at, v] of muts) b[at % b.length] = v;
      return b;
    });
  const garbage = fc.uint8Array({ maxLength: 200 }).map((u) => Buffer.from(u));
  const withHeader = garbage.map((g) => Buffer.concat([buf(HEADER), g]));
  fc.assert(
    fc.property(fc.oneof(mutated, garbage, withHeader), fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (b, cuts, implicit) => {
      const o: FeedOptions = implicit ? { implicitStream: { defaultNs: NS.SERVER }, maxStanzaBytes: 150 } : { maxStanzaBytes: 150 };
      const whole = run([b], o);
      return whole.errors <= 1 && same(run(splitAt(b, cuts), o).events, whole.events) && same(run(byteByByte(b), o).events, whole.events);
    }),
    { seed: SEED + 2, numRuns: 500 },
  );
  t.pass();
});

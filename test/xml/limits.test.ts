import test from 'ava';
import pako from 'pako';
import { feedAll, run, buf, HEADER, errorOf } from './_feed.ts';
import { NS } from '../../src/xmpp/ns.ts';
import { Metrics } from '../../src/obs/metrics.ts';

/** A message stanza of exactly n bytes (n >= 40), with multi-byte text. */
function stanzaOfSize(n: number, id: string): string {
  const head = `<message id='${id}'><body>`;
  const tail = '</body></message>';
  const room = n - Buffer.byteLength(head + tail);
  const body = '€'.repeat(Math.floor(room / 3)) + 'x'.repeat(room % 3); // € is 3 bytes
  const s = head + body + tail;
  if (Buffer.byteLength(s) !== n) throw new Error('size');
  return s;
}

test('oversize stanza is policy-violation; the stanza before it is still delivered', (t) => {
  const opts = { maxStanzaBytes: 200 };
  const ok = stanzaOfSize(200, 'a');
  const big = stanzaOfSize(201, 'b');
  const r = feedAll(t, HEADER + ok + '\n' + big + ok, opts);
  t.deepEqual(r.events.map((e) => e[0]), ['open', 'stanza', 'error']);
  t.is(errorOf(r), 'policy-violation');
  t.is(r.stanzas[0].attr('id'), 'a', 'a stanza of exactly the limit passes');
  // a huge unterminated stanza is stopped at the limit, not buffered
  const huge = run([buf(HEADER + '<message><body>'), Buffer.alloc(10_000_000, 0x61)], opts);
  t.is(errorOf(huge), 'policy-violation');
  // counted after decompression too (link layer feeds inflated bytes in implicit mode)
  const deflated = pako.deflate(buf(ok + stanzaOfSize(100_000, 'z')));
  const inflated = pako.inflate(deflated);
  const z = feedAll(t, Buffer.from(inflated), { ...opts, implicitStream: { defaultNs: NS.SERVER } });
  t.deepEqual(z.events.map((e) => e[0]), ['stanza', 'error']);
  t.is(errorOf(z), 'policy-violation');
});

test('default stanza limit is 256 KiB', (t) => {
  const at = run([buf(HEADER + stanzaOfSize(262144, 'a'))]);
  t.deepEqual(at.events.map((e) => e[0]), ['open', 'stanza']);
  const over = run([buf(HEADER + stanzaOfSize(262145, 'b'))]);
  t.is(errorOf(over), 'policy-violation');
});

test('a policy violation wins over a later well-formedness error in the same chunk', (t) => {
  const r = feedAll(t, HEADER + `<message><body>${'y'.repeat(300)}</bad></message>`, { maxStanzaBytes: 100 });
  t.is(errorOf(r), 'policy-violation');
  const r2 = feedAll(t, HEADER + `<message><body>${'y'.repeat(10)}</bad></message>`, { maxStanzaBytes: 100 });
  t.is(errorOf(r2), 'not-well-formed');
});

test('depth limit', (t) => {
  const nest = (d: number) => '<a>'.repeat(d) + '</a>'.repeat(d);
  const opts = { maxDepth: 4 };
  const ok = feedAll(t, HEADER + `<message>${nest(3)}</message>`, opts);
  t.deepEqual(ok.events.map((e) => e[0]), ['open', 'stanza']);
  const bad = feedAll(t, HEADER + `<message>${nest(3)}</message><message>${nest(4)}</message>`, opts);
  t.deepEqual(bad.events.map((e) => e[0]), ['open', 'stanza', 'error']);
  t.is(errorOf(bad), 'policy-violation');
  t.is(errorOf(run([buf(HEADER + `<message>${'<a>'.repeat(100)}`)])), 'policy-violation', 'default 64');
});

test('attribute limit (declarations count)', (t) => {
  const attrs = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}='v'`).join('');
  const opts = { maxAttributes: 5 };
  t.deepEqual(feedAll(t, HEADER + `<message${attrs(5)}/>`, opts).events.map((e) => e[0]), ['open', 'stanza']);
  t.is(errorOf(feedAll(t, HEADER + `<message><x${attrs(4)} xmlns:p='u' p:z='1'/></message>`, opts)), 'policy-violation');
});

test('header and inter-stanza bytes are bounded; keepalives between stanzas do not add up', (t) => {
  const opts = { maxHeaderBytes: 300 };
  const longHdr = HEADER.replace("to='b.example'", `to='b.example' junk='${'j'.repeat(300)}'`);
  t.deepEqual(feedAll(t, longHdr, opts).events, [['error', 'policy-violation']]);
  let s = HEADER;
  for (let i = 0; i < 10; i++) s += ' '.repeat(250) + '<iq/>';
  const ok = feedAll(t, s, opts);
  t.is(ok.stanzas.length, 10);
  t.is(errorOf(ok), undefined);
  const bad = feedAll(t, HEADER + '<iq/>' + ' '.repeat(301) + '<iq/>', opts);
  t.deepEqual(bad.events.map((e) => e[0]), ['open', 'stanza', 'error']);
  t.is(errorOf(bad), 'policy-violation');
});

test('errors are counted by condition when a Metrics instance is passed', (t) => {
  const metrics = new Metrics();
  run([buf(HEADER + stanzaOfSize(300, 'a'))], { maxStanzaBytes: 200, metrics });
  run([buf(HEADER + '<a></b>')], { metrics });
  run([buf(HEADER + '<a/><b/>')], { metrics });
  t.is(metrics.get('xml_stream_errors_total', { condition: 'policy-violation' }), 1);
  t.is(metrics.get('xml_stream_errors_total', { condition: 'not-well-formed' }), 1);
  t.is(metrics.get('xml_stream_errors_total'), 2);
});

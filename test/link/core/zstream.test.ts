/**
 * The deflate contexts (zstream.ts): native zlib and pako write and read one
 * standard raw deflate stream, so two relays with different implementations
 * interoperate; limits and corrupt input behave the same in both.
 */
import test from 'ava';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { StreamDeflater, StreamInflater, buildDictionary, nativeAvailable, type ZlibImpl } from '../../../src/link/core/index.ts';
import { chatCorpus } from './corpus.ts';

const DICT = buildDictionary(['a.example', 'muc.a.example', 'b.example']);
const IMPLS: ZlibImpl[] = ['native', 'pako'];

/** Messages of 1 to 20 corpus stanzas, an empty one (it follows a flush: nothing to write), and one of ~94 KiB. */
function messages(): Buffer[] {
  const corpus = chatCorpus(600, 7);
  const out: Buffer[] = [];
  for (let i = 0, n = 1; i < corpus.length; i += n, n = (n % 20) + 1) out.push(Buffer.concat(corpus.slice(i, i + n)));
  out.splice(5, 0, Buffer.alloc(0));
  // Incompressible, so its deflate output too spans more than one 64 KiB chunk.
  const big = Buffer.concat(Array.from({ length: 3000 }, (_, i) => createHash('sha256').update(`big ${i}`).digest()).concat([Buffer.from('<x/>')]));
  out.splice(20, 0, big);
  return out;
}

test('this Node drives native zlib (the fast path is in use)', (t) => {
  t.true(nativeAvailable);
});

for (const from of IMPLS) {
  for (const to of IMPLS) {
    test(`a stream deflated by ${from} inflates with ${to}, message by message in one context`, (t) => {
      const d = new StreamDeflater(6, DICT, from);
      const inf = new StreamInflater(DICT, to);
      const msgs = messages();
      let bytes = 0;
      for (const m of msgs) {
        const c = d.compress(m);
        bytes += c.length;
        const r = inf.inflate(c, 256 * 1024);
        t.true(r.ok, `message ${msgs.indexOf(m)} of ${m.length} B: ${r.ok ? '' : r.reason}`);
        if (r.ok) t.true(r.data.equals(m));
      }
      t.log(`${from} -> ${to}: ${msgs.length} messages, ${bytes} compressed bytes`);
    });
  }
}

test('native and pako make streams of about the same size (level 6, chat corpus)', (t) => {
  const msgs = messages().filter((m) => m.length < 50_000);
  const size = (impl: ZlibImpl): number => { const d = new StreamDeflater(6, DICT, impl); return msgs.reduce((n, m) => n + d.compress(m).length, 0); };
  const native = size('native');
  const pako = size('pako');
  t.log(`native ${native} B, pako ${pako} B`);
  t.true(native <= pako * 1.02, 'native zlib within 2 % of pako');
});

for (const impl of IMPLS) {
  test(`${impl}: output past the limit is refused as too_big and the context stays in step`, (t) => {
    const d = new StreamDeflater(6, DICT, 'native');
    const inf = new StreamInflater(DICT, impl);
    const bomb = Buffer.alloc(200_000, 0x61);
    const after = Buffer.from('<message to="b@b.example"><body>after</body></message>');
    t.deepEqual(inf.inflate(d.compress(bomb), 1000), { ok: false, reason: 'too_big' });
    const r = inf.inflate(d.compress(after), 1000);
    t.true(r.ok && r.data.equals(after));
  });

  test(`${impl}: bytes that are not deflate break the stream for good`, (t) => {
    const inf = new StreamInflater(DICT, impl);
    const d = new StreamDeflater(6, DICT, 'pako');
    t.true(inf.inflate(d.compress(Buffer.from('<a/>')), 1000).ok);
    t.deepEqual(inf.inflate(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x07]), 1000), { ok: false, reason: 'corrupt' });
    t.true(inf.broken);
    t.deepEqual(inf.inflate(d.compress(Buffer.from('<b/>')), 1000), { ok: false, reason: 'corrupt' });
  });

  test(`${impl}: a final block mid-stream is corrupt (a stream never ends)`, (t) => {
    const inf = new StreamInflater(DICT, impl);
    const d = new StreamDeflater(6, DICT, 'native');
    t.true(inf.inflate(d.compress(Buffer.from('<a/>')), 1000).ok);
    // A complete raw deflate stream: its last block has BFINAL set.
    t.deepEqual(inf.inflate(zlib.deflateRawSync(Buffer.from('<b/>')), 1000), { ok: false, reason: 'corrupt' });
    t.true(inf.broken);
  });
}

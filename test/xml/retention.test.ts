/**
 * A stanza read by the fast path keeps only its own strings alive, not the
 * whole text it was read from (a 16 KB read of a local server's stream, a
 * whole link message). Its attribute values were slices of that text: a stanza
 * waiting in the relay kept the text alive with it, and the relay's young
 * generation copied it at every collection. Measured here as the heap a few
 * kept attribute sets hold after a full collection.
 */
import test from 'ava';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFragments } from '../../src/xml/fragments.ts';
import { StreamParser } from '../../src/xml/parser.ts';
import { NS } from '../../src/xmpp/ns.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const stanza = (i: number): string =>
  `<message from="alice${i}@a.example/Conversations.x${i}" to="bob${i}@b.example" type="chat" id="4a7c0f1e-${String(i).padStart(4, '0')}-4b2d-9e31-0c5d8a6f2b7e" xml:lang="en">` +
  `<body>message ${i} ${'text '.repeat(60)}</body><active xmlns="http://jabber.org/protocol/chatstates"/></message>`;

/** Heap still in use after a full collection while `keep` holds what `fill` returned. */
function heldBy(fill: () => unknown[]): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const keep = fill();
  gc();
  const held = process.memoryUsage().heapUsed - before;
  if (keep.length === 0) throw new Error('nothing kept');
  return held;
}

const READS = 40;
const PER_READ = 400; // about 200 KB of text per read

test('stanzas of a link message keep their attribute values, not the message text', (t) => {
  const lim = { maxStanzaBytes: 65_536, maxHeaderBytes: 4096, maxDepth: 64, maxAttributes: 64 };
  const held = heldBy(() => {
    const kept: Array<Record<string, string>> = [];
    for (let r = 0; r < READS; r++) {
      const msg = Buffer.from(Array.from({ length: PER_READ }, (_, i) => stanza(r * PER_READ + i)).join(''));
      const els = readFragments(msg, NS.SERVER, lim);
      if (!els) throw new Error('the fast path should read these');
      kept.push({ ...els[0].attrs }); // one stanza's attributes per message
    }
    t.is(kept[3].from, `alice${3 * PER_READ}@a.example/Conversations.x${3 * PER_READ}`);
    return kept;
  });
  // The texts were READS x ~200 KB (8 MB); the kept values are a few KB.
  t.true(held < 1_000_000, `${held} bytes held by ${READS} attribute sets`);
});

test('stanzas read from a local server stream keep their attribute values, not the read', (t) => {
  const held = heldBy(() => {
    const kept: Array<Record<string, string>> = [];
    let n = 0;
    const p = new StreamParser({
      streamOpen: () => undefined,
      stanza: (el) => {
        if (n++ % 100 === 0) kept.push({ ...el.attrs }); // spread over the reads
      },
      streamClose: () => undefined,
      error: (err) => t.fail(String(err)),
    });
    p.write(Buffer.from(`<stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" version="1.0">`));
    for (let r = 0; r < READS; r++) p.write(Buffer.from(Array.from({ length: PER_READ }, (_, i) => stanza(r * PER_READ + i)).join('')));
    t.is(kept.length, (READS * PER_READ) / 100);
    return kept;
  });
  t.true(held < 1_000_000, `${held} bytes held`);
});

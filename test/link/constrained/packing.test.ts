/** A link message may carry several stanzas back to back (the sender packs a backlog): the receiver's parse. */
import test from 'ava';
import { parseStanzas } from '../../../src/link/constrained/index.ts';

const m = (i: number, to = 'bob@b.example'): string =>
  `<message type="chat" from="alice@a.example/x" to="${to}" id="p${i}"><body>packed ${i} &amp; more</body></message>`;

test('several stanzas in one message come out in order, each with its own bytes', (t) => {
  const parts = [m(1), `<presence from="alice@a.example/x" to="carol@b.example"/>`, m(2, 'dave@muc.b.example')];
  const els = parseStanzas(Buffer.from(parts.join('')), 262144);
  t.deepEqual(els.map((e) => e.local), ['message', 'presence', 'message']);
  t.deepEqual(els.map((e) => e.attr('to')), ['bob@b.example', 'carol@b.example', 'dave@muc.b.example']);
  // unedited elements keep their exact bytes (what a partly handed-over message is rewritten from)
  t.deepEqual(els.map((e) => e.toBuffer().toString()), parts);
  t.is(els[0].getChild('body')?.text(), 'packed 1 & more');
});

test('a single stanza is still one message', (t) => {
  t.is(parseStanzas(Buffer.from(m(7)), 262144).length, 1);
});

test('a message that ends inside a stanza, holds no stanza, or breaks a limit is refused', (t) => {
  t.throws(() => parseStanzas(Buffer.from(m(1) + m(2).slice(0, 30)), 262144), { message: /ends inside a stanza/ });
  t.throws(() => parseStanzas(Buffer.from('   '), 262144), { message: /no complete stanza/ });
  t.throws(() => parseStanzas(Buffer.from(m(1) + '<message><body>x</message>'), 262144));
  t.throws(() => parseStanzas(Buffer.from(m(1) + m(2)), 40));
});

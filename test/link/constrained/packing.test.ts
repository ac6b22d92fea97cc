/** A link message may carry several stanzas back to back (the sender packs a backlog): the receiver's parse. */
import test from 'ava';
import { pack, parseStanzas } from '../../../src/link/constrained/index.ts';
import { x } from '../../../src/xml/element.ts';

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

test('the packer: one priority class per message, within the byte limit; ids ascending; room is a target', (t) => {
  const items = [
    ...[1, 2, 3].map((i) => ({ ids: [BigInt(i)], el: x('message', { to: 'bob@b.example', id: `h${i}` }, x('body', {}, 'a'.repeat(40))), priority: 'high' as const })),
    { ids: [7n, 5n], el: x('presence', { to: 'room@muc.b.example' }), priority: 'low' as const },
    ...[8, 9].map((i) => ({ ids: [BigInt(i)], el: x('message', { to: 'bob@b.example', id: `l${i}` }), priority: 'low' as const })),
  ];
  const queue = [...items];
  const size = items[0].el.toBuffer().length;
  const msgs = pack(() => queue.shift(), 2, size * 2);
  // Room 2 is a target: the stanza that did not fit the open last message starts one more, then packing stops.
  t.deepEqual(msgs.map((msg) => [msg.priority, msg.ids]), [['high', [1n, 2n]], ['high', [3n]], ['low', [5n, 7n]]], 'a new class, a new message; ids ascending');
  t.deepEqual(parseStanzas(msgs[0].stanza, 65_536).map((e) => e.attr('id')), ['h1', 'h2'], 'back to back, in order');
  t.deepEqual(msgs[1].kinds, [['message', 1]]);
  t.deepEqual(msgs[2].kinds, [['presence', 2]], 'a folded item counts its ids');
  const rest = pack(() => queue.shift(), 4, 10_000);
  t.deepEqual(rest.map((msg) => [msg.priority, msg.ids]), [['low', [8n, 9n]]]);
  t.deepEqual(pack(() => undefined, 4, 100), []);
});

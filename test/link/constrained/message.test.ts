/**
 * partsOf: a link message splits into per-stanza spool parts only when its
 * stanzas' bytes make it up exactly, in order.
 */
import test from 'ava';
import { parseStanzas, partsOf } from '../../../src/link/constrained/message.ts';
import { x } from '../../../src/xml/element.ts';

const a = '<message from="alice@a.example/r" to="bob@b.example" id="m1" type="chat"><body>one</body></message>';
const b = '<presence from="alice@a.example/r" to="bob@b.example"/>';
const c = '<iq from="alice@a.example/r" to="b.example" id="q1" type="get"><query xmlns="jabber:iq:version"/></iq>';

test('stanzas read from the message make it up: one part each, with its length and head', (t) => {
  const msg = Buffer.from(a + b + c);
  const parts = partsOf(msg, parseStanzas(msg, 65_536));
  t.deepEqual(parts, [
    { length: Buffer.byteLength(a), head: { kind: 'message', id: 'm1', from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat' } },
    { length: Buffer.byteLength(b), head: { kind: 'presence', from: 'alice@a.example/r', to: 'bob@b.example' } },
    { length: Buffer.byteLength(c), head: { kind: 'iq', id: 'q1', from: 'alice@a.example/r', to: 'b.example', type: 'get' } },
  ]);
});

test('the same bytes in other memory count too; anything else is one part (undefined)', (t) => {
  const msg = Buffer.from(a + b);
  const els = parseStanzas(Buffer.from(a + b), 65_536); // another copy of the same bytes
  t.is(partsOf(msg, els)?.length, 2, 'equal bytes, not the same memory');
  t.is(partsOf(Buffer.from(a + b + ' '), els), undefined, 'bytes left over after the stanzas');
  t.is(partsOf(Buffer.from(a), els), undefined, 'stanzas longer than the message');
  t.is(partsOf(Buffer.from(b + a), els), undefined, 'the same stanzas in another order');
  const other = Buffer.from(a.replace('one', 'two') + b);
  t.is(partsOf(other, els), undefined, 'a byte differs at the same length');
  t.is(partsOf(msg, [x('message', { to: 'bob@b.example' })]), undefined, 'an element built here has no bytes read');
});

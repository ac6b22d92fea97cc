/**
 * XEP-0198 at close: a server that stops acknowledges every stanza it handled
 * before its closing tag, so the peer resends (or bounces) none of them.
 */
import test from 'ava';
import { dialbackStream, service, until } from './_util.ts';

test('inbound: on stop, <a h/> for the handled stanzas goes before </stream:stream>', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off' });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  const c = await dialbackStream(t, X, Y);
  c.send(`<enable xmlns='urn:xmpp:sm:3'/>`);
  await c.waitFor(/<enabled xmlns=.urn:xmpp:sm:3./);
  for (const n of [1, 2, 3]) c.send(`<message from='alice@a.example' to='bob@b.example' id='m${n}'><body>${n}</body></message>`);
  await until(() => X.got.length === 3, 5000, 'three stanzas handled');
  // Acknowledged unasked once handled, so a relay killed now leaves the sender nothing to bounce.
  await c.waitFor(/<a xmlns='urn:xmpp:sm:3' h='3'\/>/);
  t.notRegex(c.text, /<r xmlns/, 'the sender never asked');
  const before = c.text.length;

  await X.svc.stop();
  await c.waitFor(/<\/stream:stream>/);
  const tail = c.text.slice(before);
  const ack = tail.indexOf(`<a xmlns='urn:xmpp:sm:3' h='3'/>`);
  t.true(ack >= 0, 'a final ack for all three');
  t.true(ack < tail.indexOf('</stream:stream>'), 'before the closing tag');
});

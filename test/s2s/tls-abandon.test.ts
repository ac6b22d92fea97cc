/**
 * A peer that goes away in the middle of the TLS handshake (after <proceed/>,
 * before or during ClientHello) leaves no session behind, in either direction.
 */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import { RawClient, header, service, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';

test('inbound: the peer closes after <proceed/>, the session is gone', async (t) => {
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'optional' });
  for (const cut of ['before ClientHello', 'mid ClientHello']) {
    const c = await RawClient.connect(t, X.port);
    c.send(header('a.example', 'b.example'));
    await c.waitFor(/<\/stream:features>/);
    c.send(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
    await c.waitFor(/<proceed /);
    await until(() => X.svc.sessions().some((s) => s.direction === 'in' && s.state === 'tls'), 5000, 'session in tls');
    if (cut === 'mid ClientHello') c.send(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])); // a record header and one byte
    c.sock.end();
    await until(() => X.svc.sessions().length === 0, 5000, `no session left (${cut})`);
    t.deepEqual(X.svc.sessions(), [], cut);
  }
});

test('outbound: the peer answers <proceed/> then hangs up, the session closes and its stanza is bounced', async (t) => {
  const sockets: Socket[] = [];
  const peer = createServer((s) => {
    sockets.push(s);
    let text = '';
    s.on('data', (b) => {
      text += b.toString();
      if (text.includes('<stream:stream') && !text.includes('sent-features')) {
        text += 'sent-features';
        s.write(`${header('b.example', 'a.example', " id='x1'")}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`);
      }
      if (text.includes('<starttls')) {
        text = text.replace('<starttls', '<done');
        s.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
        setTimeout(() => s.end(), 50);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => peer.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => { sockets.forEach((s) => s.destroy()); peer.close(); });
  const port = (peer.address() as { port: number }).port;
  const X = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'optional', routes: { 'b.example': `127.0.0.1:${port}` } });
  X.svc.deliver(parseXml(`<message xmlns='jabber:server' from='alice@a.example' to='bob@b.example' id='m1'><body>hi</body></message>`));
  await until(() => X.undeliverable.length === 1, 10_000, 'the stanza bounced');
  t.is(X.undeliverable[0].el.attr('id'), 'm1');
  await until(() => X.svc.sessions().length === 0, 5000, 'no session left');
  t.deepEqual(X.svc.sessions(), []);
});

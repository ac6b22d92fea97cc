/**
 * Proves the interop harness: two real Prosody 0.12 servers federating directly
 * (a.example on 127.0.0.2 <-> b.example on 127.0.0.3), driven by real slixmpp clients.
 */
import test, { type ExecutionContext } from 'ava';
import { connect } from 'node:net';
import { ProsodyServer, prosodyAvailable, freePort } from '../helpers/prosody.ts';
import { XmppClient, subscribeBoth, bare, type ClientEvent } from '../helpers/xmpp-client.ts';

const run = prosodyAvailable() || process.env.CI ? test.serial : test.skip;

interface Pair { a: ProsodyServer; b: ProsodyServer; alice: XmppClient; bob: XmppClient; startMs: number }

async function startPair(t: ExecutionContext, s2sTls: 'required' | 'optional' | 'off'): Promise<Pair> {
  const t0 = Date.now();
  const bS2s = await freePort('127.0.0.3');
  const deadS2s = await freePort('127.0.0.2'); // nothing listens here
  const a = await ProsodyServer.start({
    domain: 'a.example', ip: '127.0.0.2', s2sTls,
    peers: { 'b.example': { host: '127.0.0.3', port: bS2s }, 'dead.example': { host: '127.0.0.2', port: deadS2s } },
    users: [{ user: 'alice', password: 'alice-pw' }],
  });
  t.teardown(() => a.stop());
  const b = await ProsodyServer.start({
    domain: 'b.example', ip: '127.0.0.3', s2sPort: bS2s, s2sTls,
    peers: { 'a.example': { host: '127.0.0.2', port: a.s2sPort } },
    users: [{ user: 'bob', password: 'bob-pw' }],
  });
  t.teardown(() => b.stop());
  const startMs = Date.now() - t0;
  const [alice, bob] = await Promise.all([
    XmppClient.connect({ jid: 'alice@a.example', password: 'alice-pw', host: a.ip, port: a.c2sPort }),
    XmppClient.connect({ jid: 'bob@b.example', password: 'bob-pw', host: b.ip, port: b.c2sPort }),
  ]);
  t.teardown(() => alice.close());
  t.teardown(() => bob.close());
  return { a, b, alice, bob, startMs };
}

const msgFrom = (from: string, prefix: string) => (e: ClientEvent): boolean =>
  e.event === 'message' && bare(e.from) === from && typeof e.body === 'string' && e.body.startsWith(prefix);

for (const s2sTls of ['required', 'optional', 'off'] as const) {
  run(`two Prosody servers federate directly (s2s TLS ${s2sTls})`, async (t) => {
    const { a, b, alice, bob, startMs } = await startPair(t, s2sTls);
    try {
      // First stanza opens both S2S directions (A->B for the message; B->A dialback verify).
      const t0 = Date.now();
      alice.sendMessage('bob@b.example', 'hello-0', { id: 'm-0' });
      const first = await bob.waitFor(msgFrom('alice@a.example', 'hello-'), 20_000);
      const s2sMs = Date.now() - t0;
      t.is(first.body, 'hello-0');
      t.is(first.id, 'm-0');
      t.is(first.to, 'bob@b.example');
      t.log(`start both servers: ${startMs} ms; first message over new S2S: ${s2sMs} ms`);

      // Both directions at once, in order, none lost, none doubled.
      const N = 30;
      for (let i = 1; i <= N; i++) {
        alice.sendMessage('bob@b.example', `a2b-${i}`, { id: `a2b-${i}` });
        bob.sendMessage('alice@a.example', `b2a-${i}`, { id: `b2a-${i}` });
      }
      const atBob = await bob.waitForCount(msgFrom('alice@a.example', 'a2b-'), N, 20_000);
      const atAlice = await alice.waitForCount(msgFrom('bob@b.example', 'b2a-'), N, 20_000);
      const expect = (p: string): string[] => Array.from({ length: N }, (_, i) => `${p}-${i + 1}`);
      t.deepEqual(atBob.map((e) => e.body), expect('a2b'));
      t.deepEqual(atAlice.map((e) => e.body), expect('b2a'));
      t.deepEqual(atBob.map((e) => e.id), expect('a2b'));

      // Mutual subscription across S2S, then presence both ways.
      await subscribeBoth(alice, bob);
      const aRoster = await alice.roster();
      const bRoster = await bob.roster();
      t.deepEqual(aRoster.map((i) => [i.jid, i.subscription]), [['bob@b.example', 'both']]);
      t.deepEqual(bRoster.map((i) => [i.jid, i.subscription]), [['alice@a.example', 'both']]);
      const seenBefore = alice.received.length;
      bob.sendPresence({ show: 'away', status: 'out' });
      const away = await alice.waitFor((e) => alice.received.indexOf(e) >= seenBefore && e.event === 'presence' &&
        bare(e.from) === 'bob@b.example' && e.show === 'away', 10_000);
      t.is(away.status, 'out');

      // disco#info to the remote server domain (XEP-0030), answered by Prosody B over S2S.
      const info = await alice.discoInfo('b.example');
      t.true(info.ok);
      t.true(info.features.includes('http://jabber.org/protocol/disco#info'));
      t.deepEqual(info.identities.map((i) => [i.category, i.type]), [['server', 'im']]);
      const infoA = await bob.discoInfo('a.example');
      t.true(infoA.ok);

      // A routed peer that does not listen: Prosody bounces with remote-server-not-found.
      const dead = await alice.discoInfo('dead.example', 15_000);
      t.false(dead.ok);
      t.is(dead.error, 'remote-server-not-found');

      // A message to an unknown remote user comes back as a stanza error over S2S (RFC 6120 §8.3).
      alice.sendMessage('nobody@b.example', 'lost?', { id: 'to-nobody' });
      const bounced = await alice.waitFor((e) => e.event === 'message' && e.id === 'to-nobody', 10_000);
      t.is(bounced.type, 'error');
      t.is(bare(bounced.from), 'nobody@b.example');
      t.deepEqual(bounced.error, { condition: 'service-unavailable', type: 'cancel', text: null });
      t.true(bounced.xml?.includes('urn:ietf:params:xml:ns:xmpp-stanzas'));

      // Nothing doubled after things settled.
      await new Promise((r) => setTimeout(r, 300));
      t.is(bob.messages('alice@a.example').length, N + 1);
      t.is(alice.messages('bob@b.example').length, N);

      // Exactly one S2S session each way, encrypted iff s2s TLS is on (Prosody logs every STARTTLS).
      const sa = a.s2sStatus('b.example');
      const sb = b.s2sStatus('a.example');
      t.deepEqual([sa.outgoing, sa.incoming, sb.outgoing, sb.incoming], [1, 1, 1, 1]);
      t.is(sa.encrypted, s2sTls === 'off' ? 0 : 2);
      t.is(sb.encrypted, s2sTls === 'off' ? 0 : 2);
    } catch (err) {
      t.log(`--- a.example log ---\n${a.logTail(40)}\n--- b.example log ---\n${b.logTail(40)}`);
      throw err;
    }
  });
}

run('stop() ends Prosody and frees its ports; restart() keeps accounts', async (t) => {
  const s = await ProsodyServer.start({ domain: 'c.example', ip: '127.0.0.4', peers: {}, users: [{ user: 'carol', password: 'pw' }] });
  t.teardown(() => s.stop());
  t.true(s.running);
  await s.restart();
  const carol = await XmppClient.connect({ jid: 'carol@c.example', password: 'pw', host: s.ip, port: s.c2sPort });
  t.teardown(() => carol.close());
  t.is(bare(carol.jid), 'carol@c.example');
  await t.throwsAsync(XmppClient.connect({ jid: 'carol@c.example', password: 'wrong', host: s.ip, port: s.c2sPort }),
    { code: 'CLIENT_CONNECT_FAILED' } as never);
  await carol.close();
  await s.stop();
  t.false(s.running);
  const refused = await new Promise<boolean>((resolve) => {
    const sock = connect({ host: s.ip, port: s.c2sPort });
    sock.once('connect', () => { sock.destroy(); resolve(false); });
    sock.once('error', () => resolve(true));
  });
  t.true(refused);
});

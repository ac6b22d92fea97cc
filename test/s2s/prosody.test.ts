/**
 * Interop with a REAL Prosody 0.12 serving a.example: its S2S for b.example is
 * routed to the relay's listener, and the relay routes a.example to Prosody.
 * Both directions, with S2S TLS required and with TLS off.
 */
import test from 'ava';
import { ProsodyServer, prosodyAvailable, freePort } from '../helpers/prosody.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { XmppClient } from '../helpers/xmpp-client.ts';
import { service, tempDir, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';
import { x } from '../../src/xml/element.ts';
import { NS } from '../../src/xmpp/ns.ts';

const IP = { required: '127.0.0.12', off: '127.0.0.13' } as const;

for (const mode of ['required', 'off'] as const) {
  const run = prosodyAvailable() ? test.serial : test.skip;
  run(`real Prosody, S2S TLS ${mode}: message both ways and disco#info`, async (t) => {
    t.timeout(60_000);
    // the relay serves b.example toward Prosody's a.example; disco#info gets answered through deliver()
    let relay!: Awaited<ReturnType<typeof service>>;
    relay = await service(t, {
      local: ['a.example'],
      served: ['b.example'],
      tls: mode,
      onStanza: (el, ctx) => {
        relay.got.push({ el, ...ctx });
        if (el.local === 'iq' && el.attr('type') === 'get' && el.getChild('query', NS.DISCO_INFO)) {
          relay.svc.deliver(
            x('iq', { type: 'result', id: el.attr('id'), from: el.attr('to'), to: el.attr('from') },
              x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'server', type: 'im' }), x('feature', { var: 'urn:example:relayed' }))),
          );
        }
      },
    });
    const prosody = await ProsodyServer.start({
      domain: 'a.example',
      ip: IP[mode],
      peers: { 'b.example': { host: '127.0.0.1', port: relay.port } },
      s2sTls: mode,
      users: [{ user: 'alice', password: 'pw' }],
    });
    t.teardown(() => prosody.stop());
    relay.routes['a.example'] = `${IP[mode]}:${prosody.s2sPort}`;
    const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: IP[mode], port: prosody.c2sPort });
    t.teardown(() => alice.close());

    try {
      // Prosody -> relay (relay: receiving role, dials back to Prosody)
      alice.sendMessage('bob@b.example', 'hello bob', { id: 'm1', type: 'chat' });
      await until(() => relay.got.some((g) => g.el.attr('id') === 'm1'), 20_000, 'alice message at the relay');
      const m1 = relay.got.find((g) => g.el.attr('id') === 'm1')!;
      t.is(m1.from, 'a.example');
      t.is(m1.to, 'b.example');
      t.regex(m1.el.attr('from')!, /^alice@a\.example\//);
      t.is(m1.el.attr('to'), 'bob@b.example');
      t.is(m1.el.getChildText('body'), 'hello bob');

      // relay -> Prosody (relay: originating role; Prosody dials back, relay answers as authoritative)
      relay.svc.deliver(parseXml(`<message from='bob@b.example/phone' to='alice@a.example' type='chat' id='m2'><body>hello alice</body></message>`));
      const got = await alice.waitFor((e) => e.event === 'message' && e.id === 'm2', 20_000);
      t.is(got.body, 'hello alice');
      t.is(got.from, 'bob@b.example/phone');

      // disco#info from alice to b.example: arrives at the relay, answered through deliver()
      const info = await alice.discoInfo('b.example', 20_000);
      t.true(info.ok, JSON.stringify(info));
      t.true(info.features.includes('urn:example:relayed'));
      t.true(relay.got.some((g) => g.el.local === 'iq' && g.el.attr('to') === 'b.example'));

      const sessions = relay.svc.sessions();
      t.true(sessions.some((s) => s.direction === 'in' && s.state === 'authed'), JSON.stringify(sessions));
      t.true(sessions.some((s) => s.direction === 'out' && s.state === 'authed'), JSON.stringify(sessions));
      for (const s of sessions) t.is(s.tls, mode === 'required', JSON.stringify(s));
      t.deepEqual(relay.undeliverable, []);
    } catch (err) {
      t.log(prosody.logTail(80));
      throw err;
    }
  });
}

(prosodyAvailable() ? test.serial : test.skip)('real Prosody with mutually trusted certificates: SASL EXTERNAL both ways, XEP-0198 acks', async (t) => {
  t.timeout(60_000);
  const ip = '127.0.0.14';
  const dir = tempDir(t);
  // our certificate for b.example, trusted by Prosody through its cafile
  const ourCert = new CertStore({ dir }).pairForDomain('b.example').certPem;
  const caFile = join(dir, 'relay-ca.pem');
  writeFileSync(caFile, ourCert);
  const relayPort = await freePort('127.0.0.1');
  const prosody = await ProsodyServer.start({
    domain: 'a.example',
    ip,
    peers: { 'b.example': { host: '127.0.0.1', port: relayPort } },
    s2sTls: 'required',
    users: [{ user: 'alice', password: 'pw' }],
    extraConfig: `s2s_ssl = { cafile = ${JSON.stringify(caFile)} }`,
    extraModules: ['smacks'],
  });
  t.teardown(() => prosody.stop());
  const relay = await service(t, {
    local: ['a.example'],
    served: ['b.example'],
    tls: 'required',
    listen: [`127.0.0.1:${relayPort}`],
    certs: new CertStore({ dir, ca: [readFileSync(prosody.certPath, 'utf8')] }),
    routes: { 'a.example': `${ip}:${prosody.s2sPort}` },
  });
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: ip, port: prosody.c2sPort });
  t.teardown(() => alice.close());
  try {
    alice.sendMessage('bob@b.example', 'hi', { id: 'e1', type: 'chat' });
    await until(() => relay.got.some((g) => g.el.attr('id') === 'e1'), 20_000, 'message at the relay');
    relay.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' type='chat' id='e2'><body>hi alice</body></message>`));
    await alice.waitFor((e) => e.event === 'message' && e.id === 'e2', 20_000);
    const sessions = relay.svc.sessions();
    t.true(sessions.some((s) => s.direction === 'in' && s.auth === 'sasl-external' && s.state === 'authed'), JSON.stringify(sessions));
    t.true(sessions.some((s) => s.direction === 'out' && s.auth === 'sasl-external' && s.state === 'authed'), JSON.stringify(sessions));
    t.is(relay.metrics.get('s2s_dialback_total'), 0);
    // XEP-0198 on both streams (Prosody mod_smacks enables it after SASL)
    await until(() => relay.metrics.get('s2s_sm_acked_total') >= 1, 10_000, 'ack from Prosody');
    t.is(relay.metrics.get('s2s_sm_enabled_total', { direction: 'out' }), 1);
    t.is(relay.metrics.get('s2s_sm_enabled_total', { direction: 'in' }), 1);
  } catch (err) {
    t.log(prosody.logTail(80));
    throw err;
  }
});

/**
 * Fan-out folding on the live path: a room's groupchat copies for 10 far-side
 * occupants cross the constrained link folded, and the far XMPP server receives
 * exactly the 10 stanzas it would have received without the relays.
 */
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S2SService } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

test('10 groupchat copies cross once and arrive as the 10 original stanzas', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-fanout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const [ua, ub, sa, sb] = [await freeUdpPort(), await freeUdpPort(), await freeTcpPort(), await freeTcpPort()];
  const site = (name: string, domains: string, remote: string, bind: number, peer: number, listen: number, route: number) =>
    parseSiteConfig(`site: ${name}
data_dir: ${join(dir, name)}
local: { domains: [${domains}], listen: ["127.0.0.1:${listen}"], routes: { ${domains}: "127.0.0.1:${route}" } }
links:
  - { name: partner, domains: [${remote}], profile: milsatcom-9600, transport: udp, bind: "127.0.0.1:${bind}", peer: "127.0.0.1:${peer}", key_file: ${join(dir, 'k.key')} }
metrics: { listen: null }
optimize: { fanout: true }
`, join(dir, `${name}.yaml`));
  const received: XmlElement[] = [];
  const peer = (served: string, local: string, relay: number) =>
    new S2SService({
      listen: ['127.0.0.1:0'], localDomains: [local], servedDomains: (d) => d === served, routes: { [local]: `127.0.0.1:${relay}` },
      tls: { certs: new CertStore({ dir: join(dir, `certs-${served}`) }), require: false },
      secret: randomBytes(32), maxStanzaBytes: 262144,
      onStanza: (el) => void received.push(el), onUndeliverable: () => undefined,
    });
  const muc = peer('muc.a.example', 'b.example', sa);
  const far = peer('b.example', 'muc.a.example', sb);
  await muc.start();
  await far.start();
  t.teardown(() => muc.stop());
  t.teardown(() => far.stop());
  const relayA = buildRelay(site('ship', 'muc.a.example', 'b.example', ua, ub, sa, muc.addresses[0].port), {});
  const relayB = buildRelay(site('shore', 'b.example', 'muc.a.example', ub, ua, sb, far.addresses[0].port), {});
  await relayA.start();
  await relayB.start();
  t.teardown(async () => { await relayA.stop(); await relayB.stop(); });

  const copy = (n: number) =>
    `<message xmlns='jabber:server' from='deck@muc.a.example/captain' to='crew${n}@b.example/phone' type='groupchat' id='g1'><body>All hands: weather front at 1800.</body><stanza-id xmlns='urn:xmpp:sid:0' id='5f0c' by='deck@muc.a.example'/><occupant-id xmlns='urn:xmpp:occupant-id:0' id='dGhlIGNhcHRhaW4='/></message>`;
  for (let n = 0; n < 10; n++) muc.deliver(parseXml(copy(n)));
  const end = Date.now() + 20_000;
  while (received.length < 10 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  t.is(received.length, 10);
  // Same tree, whatever the quoting: re-serialize with every raw copy dropped.
  const fresh = (el: XmlElement): XmlElement => {
    el.touch();
    el.elements().forEach(fresh);
    return el;
  };
  const canon = (el: XmlElement) => fresh(parseXml(el.toString())).toString();
  t.deepEqual(received.map(canon).sort(), Array.from({ length: 10 }, (_, n) => canon(parseXml(copy(n)))).sort());
  t.true(relayA.metrics.get('optimize_folds_total') >= 1, 'copies were folded');
  // The partner's acknowledgement follows its durable store: wait for it rather than for a fixed time.
  const acked = Date.now() + 20_000;
  while (relayA.metrics.get('spool_acked_total') < 10 && Date.now() < acked) await new Promise((r) => setTimeout(r, 50));
  t.is(relayA.metrics.get('spool_acked_total'), 10, 'every copy acknowledged by the partner');
});

/** The relay's point-in-time gauges follow the S2S sessions down, not only up. */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S2SService } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { parseXml } from '../../src/xml/index.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';

test('s2s_sessions reads 0 for a state once its last session has closed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-gauges-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const listen = await freeTcpPort();
  const server = new S2SService({
    listen: ['127.0.0.1:0'], localDomains: ['b.example'], servedDomains: (d) => d === 'a.example', routes: { 'b.example': `127.0.0.1:${listen}` },
    tls: { certs: new CertStore({ dir: join(dir, 'certs-a') }), require: false },
    secret: randomBytes(32), maxStanzaBytes: 262144, onStanza: () => undefined, onUndeliverable: () => undefined,
  });
  await server.start();
  t.teardown(() => server.stop());
  const relay = buildRelay(parseSiteConfig(`site: ship
data_dir: ${join(dir, 'ship')}
local: { domains: [a.example], listen: ["127.0.0.1:${listen}"], routes: { a.example: "127.0.0.1:${server.addresses[0].port}" }, tls: { require: false } }
links:
  - { name: shore, domains: [b.example], profile: lan, transport: xep0361, bind: "127.0.0.1:0" }
metrics: { listen: null }
`, join(dir, 'ship.yaml')), {});
  await relay.start();
  t.teardown(() => relay.stop());

  void server.send(parseXml(`<message xmlns='jabber:server' from='alice@a.example' to='bob@b.example' id='m1'><body>hi</body></message>`)).catch(() => undefined);
  await until(() => relay.s2s.sessions().some((s) => s.direction === 'in'), 'an inbound session');
  const states = [...new Set(relay.s2s.sessions().filter((s) => s.direction === 'in').map((s) => s.state))];
  relay.collectGauges();
  const count = (): number => states.reduce((n, state) => n + relay.metrics.get('s2s_sessions', { direction: 'in', state }), 0);
  t.true(count() >= 1, 'the open session is counted');

  await server.stop();
  await until(() => !relay.s2s.sessions().some((s) => s.direction === 'in'), 'the inbound session to close');
  relay.collectGauges();
  t.is(count(), 0, 'no stale count after the session closed');
});

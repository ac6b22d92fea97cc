/**
 * Unauthenticated S2S connections are limited, in total and per source
 * address: 1000 idle connections against a relay (real sockets, from eleven
 * loopback addresses) while its local server's traffic flows through the
 * relay pair to the far server. The limits hold, the excess is refused with
 * the right stream error and counted, a new session from another address
 * still gets in, every stanza arrives, and status sums the pending
 * connections up in one line without the names they claim.
 */
import test from 'ava';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { formatStatus } from '../../src/cli/status.ts';
import { x } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';
import { localServer } from '../helpers/relay-proc.ts';

const FLOOD = 1000;
const LIMITS = { total: 50, perAddress: 20 };

/** Opens an idle TCP connection from `local`; resolves with what the relay sent before it closed (or so far). */
function idle(port: number, local: string, header: boolean): Promise<{ sock: net.Socket; got: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let got = '';
    let closed = false;
    const sock = net.connect({ port, host: '127.0.0.1', localAddress: local }, () => {
      // Some claim a local domain in a stream header and then say nothing more.
      if (header) sock.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='b.example' from='a.example' version='1.0'>`);
      resolve({ sock, got: () => got, closed: () => closed });
    });
    sock.on('data', (d) => (got += d.toString()));
    sock.on('close', () => (closed = true));
    sock.on('error', (err) => (closed ? undefined : reject(err)));
  });
}

test.serial('1000 idle connections: the limits hold, the excess is refused and counted, traffic through the relay is all delivered', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-limits-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const [ua, ub] = [await freeUdpPort(), await freeUdpPort()];
  const [sA, sB] = [await freeTcpPort(), await freeTcpPort()];
  const got: string[] = [];
  const peerA = localServer({ dir, served: 'a.example', local: 'b.example', relayPort: sA, onStanza: () => undefined });
  const peerB = localServer({ dir, served: 'b.example', local: 'a.example', relayPort: sB, onStanza: (el) => void (el.local === 'message' && got.push(el.attr('id')!)) });
  await peerA.start();
  await peerB.start();
  t.teardown(() => peerA.stop());
  t.teardown(() => peerB.stop());
  const cfg = (name: string, domain: string, remote: string, s2s: number, route: number, bind: number, peer: number, extra = '') =>
    parseSiteConfig(
      `site: ${name}
data_dir: ${join(dir, name)}
local: { domains: [${domain}], listen: ["127.0.0.1:${s2s}"], routes: { ${domain}: "127.0.0.1:${route}" } }
links:
  - { name: partner, domains: [${remote}], profile: lan, transport: udp, bind: "127.0.0.1:${bind}", peer: "127.0.0.1:${peer}", key_file: ${join(dir, 'k.key')}, tuning: { keepalive_s: 1 } }
metrics: { listen: null }
s2s: { auth_timeout_s: 600${extra} }
`,
      join(dir, `${name}.yaml`),
    );
  const relayA = buildRelay(cfg('ship', 'a.example', 'b.example', sA, peerA.addresses[0].port, ua, ub, `, max_pending: ${LIMITS.total}, max_pending_per_address: ${LIMITS.perAddress}`), {});
  const relayB = buildRelay(cfg('shore', 'b.example', 'a.example', sB, peerB.addresses[0].port, ub, ua), {});
  await relayA.start();
  await relayB.start();
  t.teardown(() => relayA.stop());
  t.teardown(() => relayB.stop());

  let n = 0;
  const send = (via = peerA) => via.deliver(x('message', { from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat', id: `m${n++}` }, x('body', {}, 'through the flood')));
  send();
  await until(() => got.length === 1, 'the first message through the relay pair (sessions authenticated)', 30_000);

  // The flood: half from one address, half spread over ten others; a message goes with every batch.
  const conns: Array<Awaited<ReturnType<typeof idle>>> = [];
  let peak = 0;
  for (let i = 0; i < FLOOD; i += 50) {
    send();
    const batch = Array.from({ length: 50 }, (_, k) => i + k).map((j) => idle(sA, j % 2 === 0 ? '127.0.0.10' : `127.0.0.${11 + (((j - 1) / 2) % 10)}`, j % 4 === 1));
    conns.push(...(await Promise.all(batch)));
    peak = Math.max(peak, relayA.s2s.pendingSummary().pending);
  }
  t.teardown(() => conns.forEach((c) => c.sock.destroy()));
  await until(() => relayA.metrics.get('s2s_connections_refused_total') === FLOOD - LIMITS.total, 'every connection over the limits refused', 30_000);

  const summary = relayA.s2s.pendingSummary();
  t.is(summary.pending, LIMITS.total, 'the total limit holds');
  t.true(peak <= LIMITS.total);
  t.is(relayA.metrics.get('s2s_connections_refused_total', { reason: 'per_address' }), FLOOD / 2 - LIMITS.perAddress, 'one address gets its share, no more');
  t.is(relayA.metrics.get('s2s_connections_refused_total', { reason: 'total' }), FLOOD / 2 - (LIMITS.total - LIMITS.perAddress));
  await until(() => conns.filter((c) => c.closed()).length === FLOOD - LIMITS.total, 'refused connections closed', 10_000);
  const refused = conns.filter((c) => c.closed());
  const bad = refused.filter((c) => !/<stream:error><(resource-constraint|policy-violation) xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']\/>.*<\/stream:stream>$/.test(c.got()));
  t.deepEqual(bad.slice(0, 3).map((c) => c.got()), [], `each refused with a stream error (${bad.length} not)`);
  t.true(refused.some((c) => c.got().includes('policy-violation')) && refused.some((c) => c.got().includes('resource-constraint')));

  // Status: one line for the pending connections, none of them shown as a peer.
  const st = relayA.status();
  t.true(st.sessions.every((s) => s.state === 'authed'), 'only authenticated sessions listed');
  const text = formatStatus(st);
  t.regex(text, /not yet authenticated: 50 from 11 addresses, most from 127\.0\.0\.10 \(20\); refused 950 since start \(limits 50 in all, 20 per address\)/);
  t.true(text.split('\n').length < 15, text);

  // Traffic went on through the flood, and all of it arrives.
  const sent = n;
  await until(() => got.length === sent, `all ${sent} messages delivered (have ${got.length})`, 30_000);
  t.deepEqual(got, Array.from({ length: sent }, (_, i) => `m${i}`), 'the first and one with each of the 20 batches, in order');

  // A session from an address with no pending connections of its own still gets in once a slot is free.
  conns.filter((c) => !c.closed()).slice(0, 5).forEach((c) => c.sock.destroy());
  await until(() => relayA.s2s.pendingSummary().pending === LIMITS.total - 5, 'slots freed');
  await peerA.stop();
  const peerA2 = localServer({ dir, served: 'a.example', local: 'b.example', relayPort: sA, listenPort: peerA.addresses[0].port, onStanza: () => undefined });
  await peerA2.start();
  t.teardown(() => peerA2.stop());
  send(peerA2);
  await until(() => got.length === sent + 1, 'a new session gets in and delivers', 30_000);
});

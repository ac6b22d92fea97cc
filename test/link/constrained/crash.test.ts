/**
 * kill -9 of either relay in the middle of a transfer, then restart: every
 * stanza the relay accepted arrives exactly once, in order.
 * Relays run as real processes (`satrelay run`) over an emulated UDP bearer;
 * the two sites' XMPP servers are played by S2SService instances in this process.
 */
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { S2SService } from '../../../src/s2s/index.ts';
import { CertStore } from '../../../src/s2s/tls/index.ts';
import { generateKeyText } from '../../../src/config/index.ts';
import { startUdpEmulator } from '../../../src/emulator/index.ts';
import { x, type XmlElement } from '../../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../../helpers/ports.ts';
import { metric, startRelay, untilAsync as until } from '../../helpers/relay-proc.ts';

for (const victim of ['sender', 'receiver'] as const) {
  test.serial(`kill -9 of the ${victim} relay mid-transfer: nothing lost, nothing doubled`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'satrelay-crash-'));
    t.teardown(() => {
      if (!t.passed) {
        for (const side of ['A', 'B']) {
          try {
            t.log(`relay ${side} log tail:\n` + readFileSync(join(dir, `relay-${side}.log`), 'utf8').split('\n').slice(-15).join('\n'));
          } catch {
            /* no log */
          }
        }
      }
      if (!process.env.SATRELAY_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
      else t.log(`kept ${dir}`);
    });
    writeFileSync(join(dir, 'link.key'), generateKeyText(), { mode: 0o600 });
    const [ra, rb] = [await freeUdpPort(), await freeUdpPort()];
    // 19.2 kbit/s, 100 ms each way, 2 % loss: 200 stanzas take several seconds.
    const emu = await startUdpEmulator({
      params: { rate_bps: 19_200, delay_ms: 100, loss: { model: 'bernoulli', p: 0.02 }, mtu: 1500 },
      seed: 7,
      a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ra}` },
      b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${rb}` },
    });
    t.teardown(() => emu.close());

    const [sA, sB, mA, mB, pB] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
    const received: string[] = [];
    const peer = (served: string, local: string, relayPort: number, listenPort = 0) =>
      new S2SService({
        listen: [`127.0.0.1:${listenPort}`],
        localDomains: [local],
        servedDomains: (d) => d === served,
        routes: { [local]: `127.0.0.1:${relayPort}` },
        tls: { certs: new CertStore({ dir: join(dir, `certs-${served}`) }), require: false },
        secret: randomBytes(32),
        maxStanzaBytes: 262144,
        onStanza: (el: XmlElement) => {
          if (el.local === 'message') received.push(el.attr('id')!);
        },
        onUndeliverable: (el, err) => t.log(`peer ${served}: undeliverable ${el.attr('id')}: ${err.condition}`),
      });
    const peerA = peer('a.example', 'b.example', sA);
    let peerB = peer('b.example', 'a.example', sB, pB);
    await peerA.start();
    await peerB.start();
    t.teardown(() => peerA.stop());
    t.teardown(() => peerB.stop());

    const site = (name: string, domain: string, remote: string, s2s: number, route: number, bind: number, emuPort: number, metricsPort: number) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, `site: ${name}
data_dir: ${join(dir, name)}
local:
  domains: [${domain}]
  listen: ["127.0.0.1:${s2s}"]
  routes: { ${domain}: "127.0.0.1:${route}" }
links:
  - name: partner
    domains: [${remote}]
    profile: milsatcom-9600
    transport: udp
    bind: "127.0.0.1:${bind}"
    peer: "127.0.0.1:${emuPort}"
    key_file: ${join(dir, 'link.key')}
    tuning: { rto_min_ms: 400, keepalive_s: 2 }
metrics: { listen: "127.0.0.1:${metricsPort}" }
log: { level: info }
`);
      return file;
    };
    const fileA = site('ship', 'a.example', 'b.example', sA, peerA.addresses[0].port, ra, emu.addresses.a.port, mA);
    const fileB = site('shore', 'b.example', 'a.example', sB, peerB.addresses[0].port, rb, emu.addresses.b.port, mB);

    const procs: Record<'A' | 'B', ChildProcess | undefined> = { A: undefined, B: undefined };
    const launch = (side: 'A' | 'B') => {
      procs[side] = startRelay(side === 'A' ? fileA : fileB, join(dir, `relay-${side}.log`));
    };
    t.teardown(() => {
      procs.A?.kill('SIGKILL');
      procs.B?.kill('SIGKILL');
    });
    launch('A');
    launch('B');
    await until('relays listening', async () => (await metric(mA, 'satrelay_stanzas_in_total')) >= 0 && (await metric(mB, 'satrelay_stanzas_in_total')) >= 0, 20_000);

    const N = 200;
    for (let i = 0; i < N; i++) {
      peerA.deliver(x('message', { from: `alice@a.example/r`, to: 'bob@b.example', type: 'chat', id: `c${i}` }, x('body', {}, `message ${i} of the crash test, with some text to compress`)));
    }
    // Everything is durably accepted by the sending relay before the crash.
    await until('all stanzas spooled', async () => (await metric(mA, 'satrelay_spool_accepted_total')) === N, 30_000);
    await until('transfer under way', () => received.length >= 40, 60_000);

    const side = victim === 'sender' ? 'A' : 'B';
    if (victim === 'receiver') {
      // The far XMPP server goes away first: what the receiving relay gets from the link
      // now waits in its inbound spool, and the crash must not lose it.
      await peerB.stop();
      // Held: received from the link but not at the far server (packed link messages may have brought them all
      // already), and the relay has retried the gone server twice (a second after the first failure, what it
      // handed over before is on disk; a kill inside that window could double a stanza, as with any relay).
      await until(
        'stanzas held by the receiving relay',
        async () => (await metric(mB, 'satrelay_link_stanzas_received_total')) >= received.length + 10 && (await metric(mB, 'satrelay_local_delivery_retries_total')) >= 2,
        30_000,
      );
    }
    procs[side]!.kill('SIGKILL');
    await new Promise((r) => procs[side]!.once('exit', r));
    const atKill = received.length;
    await new Promise((r) => setTimeout(r, 500));
    launch(side);
    if (victim === 'receiver') {
      peerB = peer('b.example', 'a.example', sB, pB);
      await peerB.start();
    }

    await until(`all ${N} delivered (have ${received.length})`, () => new Set(received).size === N, 120_000);
    await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would show up here
    t.log(`killed the ${victim} relay after ${atKill} of ${N} had arrived`);
    const doubled = received.filter((id, i) => received.indexOf(id) !== i);
    // The far server acks what it handled before it closes (XEP-0198 §4), so its stop doubles nothing either.
    t.deepEqual(doubled, [], 'no duplicates');
    t.deepEqual(received, Array.from({ length: N }, (_, i) => `c${i}`), 'all, in order');
    t.true(atKill < N, 'the crash really happened mid-transfer');
  });
}

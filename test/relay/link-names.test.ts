/**
 * Link names are what operators call them, domains with dots included
 * (`to-b.example`, `shore.link`): a relay pair on each spooled transport
 * (udp, tcp, serial) starts with such names, carries a stanza between two
 * local servers, and after a restart finds the spool it left. The spool's
 * place on disk does not depend on the characters of the name (lmdb-js
 * takes a path with a dot for a file unless told otherwise).
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { S2SService } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import type { Relay } from '../../src/relay/relay.ts';
import { startPtyEmulator } from '../../src/emulator/index.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

async function until(cond: () => boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return cond();
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-names-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A local XMPP server for one side: it hands `remote` domains to the relay and records what it receives. */
async function localServer(t: ExecutionContext, dir: string, own: string, remote: string, relayPort: number) {
  const got: XmlElement[] = [];
  const svc = new S2SService({
    listen: ['127.0.0.1:0'],
    localDomains: [remote],
    servedDomains: (d) => d === own,
    routes: { [remote]: `127.0.0.1:${relayPort}` },
    tls: { certs: new CertStore({ dir: join(dir, `certs-${own}`) }), require: false },
    secret: randomBytes(32),
    maxStanzaBytes: 262144,
    onStanza: (el) => void got.push(el),
    onUndeliverable: () => undefined,
  });
  await svc.start();
  t.teardown(() => svc.stop());
  return { svc, got, address: `127.0.0.1:${svc.addresses[0].port}` };
}

const siteYaml = (o: { site: string; dir: string; domain: string; remote: string; listen: number; route: string; name: string; link: string; key: string }) => `site: ${o.site}
data_dir: ${o.dir}
local: { domains: [${o.domain}], listen: ["127.0.0.1:${o.listen}"], routes: { ${o.domain}: "${o.route}" } }
links:
  - name: ${o.name}
    domains: [${o.remote}]
    profile: lan
    key_file: ${o.key}
    reconnect: { min_s: 0.1, max_s: 0.5 }
${o.link}
metrics: { listen: null }
`;

const msg = (id: string) => parseXml(`<message xmlns='jabber:server' from='ops@a.example/desk' to='crew@b.example/bridge' id='${id}' type='chat'><body>${id}</body></message>`);

for (const transport of ['udp', 'tcp', 'serial'] as const) {
  test.serial(`${transport}: a relay pair with dotted link names starts, carries a stanza, and finds its spool after a restart`, async (t) => {
    const dir = tempDir(t);
    const key = join(dir, 'link.key');
    writeFileSync(key, generateKeyText(), { mode: 0o600 });
    const relayPort = { a: await freeTcpPort(), b: await freeTcpPort() };
    const serverA = await localServer(t, dir, 'a.example', 'b.example', relayPort.a);
    const serverB = await localServer(t, dir, 'b.example', 'a.example', relayPort.b);
    let link: { a: string; b: string };
    if (transport === 'udp') {
      const [ua, ub] = [await freeUdpPort(), await freeUdpPort()];
      link = {
        a: `    transport: udp\n    bind: "127.0.0.1:${ua}"\n    peer: "127.0.0.1:${ub}"`,
        b: `    transport: udp\n    bind: "127.0.0.1:${ub}"\n    peer: "127.0.0.1:${ua}"`,
      };
    } else if (transport === 'tcp') {
      const port = await freeTcpPort();
      link = { a: `    transport: tcp\n    peer: "127.0.0.1:${port}"`, b: `    transport: tcp\n    bind: "127.0.0.1:${port}"` };
    } else {
      const pty = await startPtyEmulator({ params: { rate_bps: 115_200, delay_ms: 1, mtu: 4096 }, seed: 1, dir });
      t.teardown(() => pty.close());
      link = { a: `    transport: serial\n    device: ${pty.deviceA}\n    baud: 115200`, b: `    transport: serial\n    device: ${pty.deviceB}\n    baud: 115200` };
    }
    const yamlA = siteYaml({ site: 'ship', dir: join(dir, 'ship'), domain: 'a.example', remote: 'b.example', listen: relayPort.a, route: serverA.address, name: 'to-b.example', link: link.a, key });
    const yamlB = siteYaml({ site: 'shore', dir: join(dir, 'shore'), domain: 'b.example', remote: 'a.example', listen: relayPort.b, route: serverB.address, name: 'shore.link', link: link.b, key });
    const start = async (yaml: string, file: string): Promise<Relay> => {
      const r = buildRelay(parseSiteConfig(yaml, join(dir, file)), {});
      await r.start();
      return r;
    };
    let a = await start(yamlA, 'ship.yaml');
    t.teardown(() => a.stop());
    const b = await start(yamlB, 'shore.yaml');
    t.teardown(() => b.stop());
    t.true(existsSync(join(dir, 'ship', 'spool', 'to-b.example', 'data.mdb')), 'the spool is a directory named after the link');
    t.true(existsSync(join(dir, 'shore', 'spool', 'shore.link', 'data.mdb')));

    serverA.svc.deliver(msg('m1'));
    t.true(await until(() => serverB.got.length === 1), 'the stanza crossed the link');
    t.is(serverB.got[0].attr('id'), 'm1');

    // The partner goes away; a stanza waits in the ship's spool, through a restart.
    await b.stop();
    // Committed, not only reserved: a stop before the commit leaves the stanza to its sender.
    const accepted = a.metrics.get('spool_accepted_total');
    serverA.svc.deliver(msg('m2'));
    t.true(await until(() => a.status().links[0].spooled === 1 && a.metrics.get('spool_accepted_total') > accepted), 'the second stanza is spooled');
    await a.stop();
    a = await start(yamlA, 'ship.yaml');
    t.is(a.status().links[0].spooled, 1, 'the restarted relay found its spool');
    t.is(a.status().links[0].name, 'to-b.example');
  });
}

test('a stray lock file left by a start that took the link name for a file is removed', (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'link.key');
  writeFileSync(key, generateKeyText(), { mode: 0o600 });
  const yaml = siteYaml({ site: 'ship', dir: join(dir, 'data'), domain: 'a.example', remote: 'b.example', listen: 0, route: '127.0.0.1:5269', name: 'shore.link', key, link: '    transport: udp\n    bind: "127.0.0.1:0"\n    peer: "127.0.0.1:5299"' });
  // What a failed start of an earlier version left: the link's directory, and lmdb's single-file lock beside it.
  const spoolRoot = join(dir, 'data', 'spool');
  mkdirSync(join(spoolRoot, 'shore.link'), { recursive: true });
  const stray = join(spoolRoot, 'shore.link-lock');
  writeFileSync(stray, Buffer.alloc(8192));
  const relay = buildRelay(parseSiteConfig(yaml, join(dir, 'ship.yaml')), {});
  t.teardown(() => relay.stop());
  t.false(existsSync(stray));
  t.true(existsSync(join(spoolRoot, 'shore.link', 'data.mdb')));
});

test.serial('satrelay run starts a site whose link names have dots and stops on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'link.key');
  writeFileSync(key, generateKeyText(), { mode: 0o600 });
  const [s2s, udpA] = [await freeTcpPort(), await freeUdpPort()];
  const file = join(dir, 'ship.yaml');
  writeFileSync(file, `site: ship
data_dir: ${join(dir, 'data')}
local: { domains: [a.example], listen: ["127.0.0.1:${s2s}"] }
links:
  - { name: to-b.example, domains: [b.example], profile: lan, transport: udp, bind: "127.0.0.1:${udpA}", peer: "127.0.0.1:9", key_file: ${key} }
  - { name: shore.link, domains: [c.example], profile: lan, transport: tcp, peer: "127.0.0.1:9", key_file: ${key} }
metrics: { listen: null }
`);
  const child = spawn(process.execPath, [join(ROOT, 'bin/satrelay.js'), 'run', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SATRELAY_LOG_JSON: '1' } });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.true(await until(() => out.includes('"msg":"relay started') || child.exitCode !== null, 30_000), out);
  t.regex(out, /"msg":"relay started/, out);
  child.kill('SIGTERM');
  t.is(await exited, 0, out);
  t.true(existsSync(join(dir, 'data', 'spool', 'to-b.example', 'data.mdb')));
  t.true(existsSync(join(dir, 'data', 'spool', 'shore.link', 'data.mdb')));
});

/**
 * Shutdown against a real Prosody: a message waiting for a down xep0361 link
 * (which keeps no spool) is bounced to its sender when `satrelay run` gets
 * SIGTERM, and the bounce is written over S2S before S2S closes.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ProsodyServer, prosodyAvailable, freePort } from '../helpers/prosody.ts';
import { XmppClient } from '../helpers/xmpp-client.ts';
import { freeTcpPort } from '../helpers/ports.ts';
import { until } from '../helpers/until.ts';
import type { RelayStatus } from '../../src/relay/relay.ts';

const run = prosodyAvailable() || process.env.CI ? test.serial : test.skip;
const ROOT = resolve(import.meta.dirname, '../..');

run('SIGTERM bounces a message held for a down xep0361 link to its sender over S2S', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [pA, relayPort, metricsPort, nobody] = [await freePort('127.0.0.2'), await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const file = join(dir, 'ship.yaml');
  writeFileSync(file, `site: ship
data_dir: ${join(dir, 'data')}
local: { domains: [a.example], listen: ["127.0.0.1:${relayPort}"], routes: { a.example: "127.0.0.2:${pA}" } }
links:
  - { name: shore.link, domains: [b.example], profile: lan, transport: xep0361, peer: "127.0.0.1:${nobody}" }
metrics: { listen: "127.0.0.1:${metricsPort}" }
`);
  const a = await ProsodyServer.start({ domain: 'a.example', ip: '127.0.0.2', s2sPort: pA, s2sTls: 'optional', peers: { 'b.example': { host: '127.0.0.1', port: relayPort } }, users: [{ user: 'alice', password: 'pw' }], fastUsers: true });
  t.teardown(() => a.stop());
  const relay = spawn(process.execPath, [join(ROOT, 'bin/satrelay.js'), 'run', '-c', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SATRELAY_LOG_JSON: '1' } });
  t.teardown(() => void relay.kill('SIGKILL'));
  let log = '';
  relay.stdout.on('data', (d) => (log += d));
  relay.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => relay.on('exit', (code) => r(code)));
  await until(() => log.includes('"msg":"relay started') || relay.exitCode !== null, 'the relay to start', 30_000);
  const alice = await XmppClient.connect({ jid: 'alice@a.example', password: 'pw', host: a.ip, port: a.c2sPort });
  t.teardown(() => alice.close());

  alice.sendMessage('bob@b.example', 'are you there?', { id: 'held-1' });
  const status = async (): Promise<RelayStatus | undefined> => {
    try {
      return (await (await fetch(`http://127.0.0.1:${metricsPort}/status`)).json()) as RelayStatus;
    } catch {
      return undefined;
    }
  };
  let queued = 0;
  for (const end = Date.now() + 20_000; queued === 0 && Date.now() < end; ) {
    queued = (await status())?.links[0].queued ?? 0;
    if (queued === 0) await new Promise((r) => setTimeout(r, 100));
  }
  t.is(queued, 1, 'the message waits for the link');

  relay.kill('SIGTERM');
  t.is(await exited, 0, log);
  const bounce = await alice.waitFor((e) => e.event === 'message' && e.id === 'held-1' && e.type === 'error', 15_000);
  t.is(bounce.from, 'bob@b.example');
  t.like(bounce.error, { condition: 'remote-server-timeout' });
  t.notRegex(log, /could not deliver a relay-made stanza/);
});

/**
 * A stopped relay lets its process exit at once: stop() leaves no socket,
 * server or timer behind, and the logger holds no thread (pino's worker-thread
 * transport for pretty output kept `satrelay run` on a terminal alive for
 * 0.3-2 s after "relay stopped").
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyText, parseSiteConfig } from '../../src/config/index.ts';
import { buildRelay } from '../../src/relay/from-config.ts';
import { createLogger } from '../../src/obs/log.ts';
import { startPtyEmulator } from '../../src/emulator/index.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-exit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Resources keeping the event loop alive that were not there in `before` (a multiset difference). */
function added(before: string[]): string[] {
  const left = [...before];
  return process.getActiveResourcesInfo().filter((r) => {
    const i = left.indexOf(r);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

/** Handles being closed disappear within a few loop turns; a timer or an open socket does not. */
async function settled(before: string[]): Promise<string[]> {
  for (let i = 0; i < 20 && added(before).length > 0; i++) await new Promise((r) => setImmediate(r));
  return added(before);
}

test.serial('after stop() a relay leaves no socket, server or timer keeping the process alive, whatever its links', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const pty = await startPtyEmulator({ params: { rate_bps: 115_200, delay_ms: 1, mtu: 4096 }, seed: 3, dir });
  t.teardown(() => pty.close());
  const refused = await freeTcpPort(); // nothing listens there: the dialling links keep retrying until stopped
  const links = [
    `transport: udp, bind: "127.0.0.1:${await freeUdpPort()}", peer: "127.0.0.1:${await freeUdpPort()}", key_file: k.key`,
    `transport: tcp, peer: "127.0.0.1:${refused}", key_file: k.key`,
    `transport: tcp, bind: "127.0.0.1:0", key_file: k.key`,
    `transport: xep0361, peer: "127.0.0.1:${refused}"`,
    `transport: xep0361, bind: "127.0.0.1:0"`,
    `transport: serial, device: ${pty.deviceA}, key_file: k.key`,
  ];
  for (const [i, link] of links.entries()) {
    const before = process.getActiveResourcesInfo();
    const cfg = parseSiteConfig(
      `site: s\ndata_dir: ${join(dir, `d${i}`)}\nlocal: { domains: [a.example], listen: ["127.0.0.1:0"] }\n` +
        `links:\n  - { name: far.link, domains: [b.example], profile: lan, reconnect: { min_s: 0.05, max_s: 0.1 }, ${link} }\nmetrics: { listen: "127.0.0.1:0" }\n`,
      join(dir, 's.yaml'),
    );
    const relay = buildRelay(cfg, {});
    await relay.start();
    const res = await fetch(`http://127.0.0.1:${relay.obsPort}/status`, { headers: { connection: 'close' } });
    t.is(res.status, 200);
    await res.text();
    await new Promise((r) => setTimeout(r, 300)); // dial failures and retries happen meanwhile
    await relay.stop();
    t.deepEqual(await settled(before), [], `left behind by a relay with ${link}`);
  }
});

test('a pretty (terminal) logger starts no thread and holds no port', (t) => {
  const before = process.getActiveResourcesInfo();
  const log = createLogger({ pretty: true, destination: 2, level: 'silent' });
  log.info('not shown');
  t.deepEqual(added(before), []);
});

test.serial('satrelay run on a terminal exits right after "relay stopped" on SIGTERM', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'k.key'), generateKeyText(), { mode: 0o600 });
  const file = join(dir, 'ship.yaml');
  writeFileSync(file, `site: ship
data_dir: ${join(dir, 'data')}
local: { domains: [a.example], listen: ["127.0.0.1:${await freeTcpPort()}"] }
links:
  - { name: shore, domains: [b.example], profile: lan, transport: udp, bind: "127.0.0.1:${await freeUdpPort()}", peer: "127.0.0.1:9", key_file: ${join(dir, 'k.key')} }
metrics: { listen: "127.0.0.1:${await freeTcpPort()}" }
`);
  // A pseudo-terminal (util-linux script), as an operator runs it: the logger formats for people.
  const env = { ...process.env };
  delete env.SATRELAY_LOG_JSON;
  const child = spawn('script', ['-qfec', `${process.execPath} ${join(ROOT, 'bin/satrelay.js')} run -c ${file}`, '/dev/null'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number>((r) => child.on('exit', () => r(performance.now())));
  const end = Date.now() + 30_000;
  while (!/relay started/.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const m = /\((\d+)\): .*relay started/.exec(out);
  // Idle for over a second: the old logger's worker then looked for new lines only once a second.
  await new Promise((r) => setTimeout(r, 1500));
  t.truthy(m, `pretty output with the relay's pid: ${out}`);
  const termAt = performance.now();
  process.kill(Number(m![1]), 'SIGTERM');
  const exitAt = await exited;
  t.regex(out, /relay stopped/, 'the last line is written before the process ends');
  // Generous: stopping this relay takes a few ms and nothing is left to wait for
  // (about 30 ms from SIGTERM to exit here; up to 2 s with the old logger's worker thread).
  t.true(exitAt - termAt < 1000, `exited ${Math.round(exitAt - termAt)} ms after SIGTERM`);
});

/**
 * Relays as real processes (`satrelay run`), their site files, logs and
 * metrics; local XMPP servers played by S2SService instances in the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { S2SService } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { ROOT, scriptArgs } from './cli.ts';

/** Starts `satrelay run -c file`, its output (JSON log lines) appended to logFile. */
export function startRelay(file: string, logFile: string): ChildProcess {
  const child = spawn(process.execPath, [...scriptArgs(join(ROOT, 'src/cli/main.ts')), 'run', '-c', file], {
    cwd: ROOT,
    env: { ...process.env, SATRELAY_LOG_JSON: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (d: Buffer) => writeFileSync(logFile, d, { flag: 'a' }));
  return child;
}

/** Sum of a metric's series at the relay's /metrics, or -1 while nothing answers. */
export async function metric(port: number, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
    return sum;
  } catch {
    return -1;
  }
}

/** Polls an async condition every 50 ms; throws naming `what` after ms. */
export async function untilAsync(what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The JSON log lines a relay wrote so far. */
export function logLines(logFile: string): Array<Record<string, unknown>> {
  let text = '';
  try {
    text = readFileSync(logFile, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** A local XMPP server for domain `local`, reaching the relay (serving `served`) at relayPort. */
export function localServer(o: { dir: string; served: string; local: string; relayPort: number; listenPort?: number; onStanza: (el: XmlElement) => void }): S2SService {
  return new S2SService({
    listen: [`127.0.0.1:${o.listenPort ?? 0}`],
    localDomains: [o.local],
    servedDomains: (d) => d === o.served,
    routes: { [o.local]: `127.0.0.1:${o.relayPort}` },
    tls: { certs: new CertStore({ dir: join(o.dir, `certs-${o.served}`) }), require: false },
    secret: randomBytes(32),
    maxStanzaBytes: 262144,
    onStanza: o.onStanza,
    onUndeliverable: () => undefined,
  });
}

/** A site file for one relay of a pair linked over loopback UDP. */
export function relaySite(o: {
  dir: string;
  name: string;
  domain: string;
  remote: string;
  s2s: number;
  route: number;
  bind: number;
  peer: number;
  metrics: number;
  keyFile: string;
  extra?: string;
}): string {
  const file = join(o.dir, `${o.name}.yaml`);
  writeFileSync(
    file,
    `site: ${o.name}
data_dir: ${join(o.dir, o.name)}
local:
  domains: [${o.domain}]
  listen: ["127.0.0.1:${o.s2s}"]
  routes: { ${o.domain}: "127.0.0.1:${o.route}" }
links:
  - name: partner
    domains: [${o.remote}]
    profile: lan
    transport: udp
    bind: "127.0.0.1:${o.bind}"
    peer: "127.0.0.1:${o.peer}"
    key_file: ${o.keyFile}
    tuning: { keepalive_s: 1 }
metrics: { listen: "127.0.0.1:${o.metrics}" }
log: { level: info }
${o.extra ?? ''}`,
  );
  return file;
}

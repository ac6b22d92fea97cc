/**
 * A real ejabberd (Debian's package, 23.01) for interop tests: one node per
 * server, its own config dir (ejabberd.yml, inetrc, ejabberdctl.cfg), spool
 * and logs in a temp dir, run with `ejabberdctl foreground` as the ejabberd
 * user (what ejabberdctl does when started as root). ERL_DIST_PORT is set, so
 * no epmd daemon is started: nothing outlives stop(). Lines for /etc/hosts
 * (`hosts`) are added in a private mount namespace (unshare -m, a bind mount
 * over /etc/hosts): the node sees them, the machine does not.
 *
 *   const e = await EjabberdServer.start({ domain: 'a.example', ip: '127.0.0.2', s2sPort: 5269,
 *     yaml: readFileSync('examples/ejabberd/ship.yml', 'utf8'), inetrc: '...', users: [{ user: 'alice', password: 'pw' }] });
 *   t.teardown(() => e.stop());
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canConnect, freePort } from './prosody.ts';

const EJABBERDCTL = '/usr/sbin/ejabberdctl';

export function ejabberdAvailable(): boolean {
  return existsSync(EJABBERDCTL) && spawnSync('id', ['ejabberd']).status === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;
}

export interface EjabberdOptions {
  domain: string;
  ip: string;
  s2sPort: number;
  /** Extra top-level ejabberd.yml text (the recipe under test). */
  yaml: string;
  /** The inetrc file (Erlang's DNS client). */
  inetrc: string;
  /** Lines added to /etc/hosts as the node sees it. */
  hosts?: string;
  users: Array<{ user: string; password: string }>;
}

const live = new Set<ChildProcess>();
const beams = new Set<number>();
process.on('exit', () => {
  for (const pid of beams) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const c of live) {
    try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ }
  }
});

export class EjabberdServer {
  private exited: Promise<void>;
  private constructor(readonly opts: EjabberdOptions, readonly dir: string, readonly c2sPort: number, private readonly child: ChildProcess, private readonly ctlArgs: string[]) {
    this.exited = new Promise((r) => child.once('exit', () => { live.delete(child); r(); }));
  }

  get logPath(): string {
    return join(this.dir, 'logs', 'ejabberd.log');
  }

  log(): string {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  static async start(o: EjabberdOptions): Promise<EjabberdServer> {
    const dir = mkdtempSync(join(tmpdir(), `ejabberd-${o.domain}-`));
    chmodSync(dir, 0o755);
    for (const d of ['conf', 'spool', 'logs']) mkdirSync(join(dir, d));
    const pem = join(dir, 'conf', `${o.domain}.pem`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', `/CN=${o.domain}`,
      '-addext', `subjectAltName=DNS:${o.domain}`, '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    writeFileSync(pem, readFileSync(join(dir, 'c.pem'), 'utf8') + readFileSync(join(dir, 'k.pem'), 'utf8'));
    const c2sPort = await freePort(o.ip);
    const distPort = await freePort('127.0.0.1');
    // What Debian's /etc/ejabberd/ejabberd.yml sets for S2S (STARTTLS required, dialback module), on test addresses.
    writeFileSync(join(dir, 'conf', 'ejabberd.yml'), `loglevel: info
hosts: [${JSON.stringify(o.domain)}]
certfiles: [${JSON.stringify(pem)}]
listen:
  - { port: ${c2sPort}, ip: ${JSON.stringify(o.ip)}, module: ejabberd_c2s, starttls: true, starttls_required: true }
  - { port: ${o.s2sPort}, ip: ${JSON.stringify(o.ip)}, module: ejabberd_s2s_in }
s2s_use_starttls: required
auth_method: internal
auth_password_format: scram
acl: { local: { user_regexp: "" } }
access_rules: { local: { allow: local }, c2s: { allow: all } }
modules:
  mod_caps: {}
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_s2s_dialback: {}
  mod_stream_mgmt: {}

# ---- the recipe under test ----
${o.yaml}
`);
    writeFileSync(join(dir, 'conf', 'inetrc'), o.inetrc);
    writeFileSync(join(dir, 'conf', 'ejabberdctl.cfg'), `ERL_DIST_PORT=${distPort}\nEJABBERD_PID_PATH=${join(dir, 'ejabberd.pid')}\nERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\n`);
    execFileSync('chown', ['-R', 'ejabberd:', dir]);
    const node = `satrelay${distPort}@localhost`;
    const ctlArgs = ['--config-dir', join(dir, 'conf'), '--spool', join(dir, 'spool'), '--logs', join(dir, 'logs'), '--node', node];
    const hostsFile = join(dir, 'hosts');
    writeFileSync(hostsFile, `${readFileSync('/etc/hosts', 'utf8').trimEnd()}\n${o.hosts ?? ''}`);
    chmodSync(hostsFile, 0o644);
    const child = spawn('unshare', ['-m', 'sh', '-c', 'h=$1; shift; mount --bind "$h" /etc/hosts && exec "$@"', 'sh', hostsFile, EJABBERDCTL, ...ctlArgs, 'foreground'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    live.add(child);
    const server = new EjabberdServer(o, dir, c2sPort, child, ctlArgs);
    const deadline = Date.now() + 30_000;
    while (!(await canConnect(o.ip, c2sPort)) || !(await canConnect(o.ip, o.s2sPort))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await server.stop();
        throw new Error(`ejabberd ${o.domain} did not start:\n${server.log().slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try { beams.add(Number(readFileSync(join(dir, 'ejabberd.pid'), 'utf8').trim())); } catch { /* killed by stop() via the child */ }
    for (const u of o.users) {
      const r = spawnSync(EJABBERDCTL, [...ctlArgs, 'register', u.user, o.domain, u.password], { encoding: 'utf8', timeout: 30_000 });
      if (r.status !== 0) {
        await server.stop();
        throw new Error(`ejabberdctl register ${u.user}@${o.domain}: ${r.stdout}${r.stderr}`);
      }
    }
    return server;
  }

  /** Stops the node (SIGTERM to beam, by the pid file ejabberd writes; su runs it in its own session) and removes the temp dir. */
  async stop(): Promise<void> {
    const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
    let beam: number | undefined;
    try { beam = Number(readFileSync(join(this.dir, 'ejabberd.pid'), 'utf8').trim()) || undefined; } catch { /* not written yet */ }
    for (const pid of [beam, this.child.pid].filter((p): p is number => p !== undefined)) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    for (let i = 0; i < 100 && beam !== undefined && alive(beam); i++) await new Promise((r) => setTimeout(r, 100));
    if (beam !== undefined && alive(beam)) process.kill(beam, 'SIGKILL');
    if (this.child.exitCode === null && this.child.signalCode === null) {
      try { process.kill(-this.child.pid!, 'SIGKILL'); } catch { /* gone */ }
      await this.exited;
    }
    if (process.env.SATRELAY_KEEP_DIRS !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}

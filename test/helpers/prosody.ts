/**
 * Real Prosody 0.12 servers for interop tests and benchmarks.
 *
 * Each ProsodyServer owns a temp dir (config, data, self-signed cert, log, pid),
 * runs `prosody` in the foreground as a child process bound to one loopback IP,
 * and routes the listed remote domains' S2S to fixed host:port pairs through the
 * test-only plugin prosody-plugins/mod_satrelay_test_routes.lua (no DNS at all).
 *
 * Gives: ProsodyServer.start/stop/restart/setPeers, logTail/log/waitForLog/s2sStatus,
 * prosodyAvailable(), freePort(). Every started server is killed on process exit.
 *
 * Example (Prosody A whose S2S to b.example goes to a relay listening on 127.0.0.1:relayPort):
 *   const a = await ProsodyServer.start({ domain: 'a.example', ip: '127.0.0.2',
 *     peers: { 'b.example': { host: '127.0.0.1', port: relayPort } }, s2sTls: 'optional',
 *     users: [{ user: 'alice', password: 'pw' }] });
 *   t.teardown(() => a.stop());
 *
 * Prosody facts this relies on (0.12.3, Debian): `prosody -F` runs in the foreground; as root it
 * does not switch user (only prosodyctl does, unless run_as_root = true); outgoing S2S connects
 * from 127.0.0.1 whatever s2s_interfaces says; self-signed certs fail verification, so with
 * s2s_secure_auth = false every S2S stream authenticates by dialback (XEP-0220), TLS or not.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const PLUGIN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'prosody-plugins');
const PROSODY_BIN = '/usr/bin/prosody';
const PROSODYCTL_BIN = '/usr/bin/prosodyctl';

export interface ProsodyPeer { host: string; port: number }

export interface ProsodyOptions {
  domain: string;
  /** Loopback IP (127.0.0.0/8) that c2s and s2s bind to. */
  ip: string;
  c2sPort?: number;
  s2sPort?: number;
  /** Remote domain -> where this Prosody's outgoing S2S connects. */
  peers: Record<string, ProsodyPeer>;
  /** required: s2s_require_encryption; optional: TLS offered/used, not required; off: no s2s TLS. Default optional. */
  s2sTls?: 'required' | 'optional' | 'off';
  users?: Array<{ user: string; password: string }>;
  /**
   * Write the users' account files (internal_plain storage) directly instead of
   * running `prosodyctl register` once per user (~0.3 s each). Default false.
   */
  fastUsers?: boolean;
  extraModules?: string[];
  /** Raw Lua appended to the global section (before the VirtualHost). */
  extraConfig?: string;
  /**
   * Components after the VirtualHost, e.g. { domain: 'conference.a.example', module: 'muc' }
   * (XEP-0045 rooms); `config` is raw Lua for the component's section.
   */
  components?: Array<{ domain: string; module: string; config?: string }>;
  /** The VirtualHost's certificate and key (PEM files, the certificate file may hold its chain); default: a fresh self-signed one. */
  certificate?: { cert: string; key: string };
  /** Raw Lua fields added to the VirtualHost's ssl table, e.g. 'protocol = "tlsv1_2";'. */
  sslExtra?: string;
  /** Load mod_offline (store messages for offline users). Default false: Prosody bounces them with service-unavailable. */
  offline?: boolean;
  /** Lua log level for the file log. Default 'debug' (needed by log-based assertions). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Startup timeout in ms. Default 15000. */
  startTimeoutMs?: number;
  /** Keep the temp dir after stop() (also when env PROSODY_KEEP_DIRS=1). */
  keepDir?: boolean;
}

export class ProsodyError extends Error {
  constructor(readonly code: 'PROSODY_START_FAILED' | 'PROSODY_TIMEOUT' | 'PROSODY_REGISTER_FAILED' | 'PROSODY_NOT_INSTALLED' | 'PROSODY_BAD_OPTIONS', message: string) {
    super(message);
    this.name = 'ProsodyError';
  }
}

let available: boolean | undefined;
/** True if the prosody binary (and the Lua unbound/epoll deps it needs) can run here. */
export function prosodyAvailable(): boolean {
  if (available === undefined) {
    const r = spawnSync(PROSODYCTL_BIN, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    available = r.status === 0 && /Prosody/i.test(r.stdout + r.stderr) && existsSync(PROSODY_BIN);
  }
  return available;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
  });
}

/** Ask the OS for a free TCP port on `ip` (bind port 0, read it, close). */
export function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host: ip, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function luaString(s: string): string {
  return JSON.stringify(s); // JSON string escapes are valid Lua string escapes for our inputs
}

const DOMAIN_RE = /^[a-z0-9.-]+$/i;

function makeCert(dir: string, domain: string): { cert: string; key: string } {
  const cert = join(dir, `${domain}.crt`);
  const key = join(dir, `${domain}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '3650', '-subj', `/CN=${domain}`,
    '-addext', `subjectAltName=DNS:${domain},DNS:*.${domain}`,
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

export class ProsodyServer {
  readonly domain: string;
  readonly ip: string;
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  readonly certPath: string;
  private _c2sPort: number;
  private _s2sPort: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private keyPaths = { cert: '', key: '' };

  private constructor(private readonly opts: ProsodyOptions, dir: string, c2sPort: number, s2sPort: number, certPath: string) {
    this.domain = opts.domain;
    this.ip = opts.ip;
    this.dir = dir;
    this.configPath = join(dir, 'prosody.cfg.lua');
    this.logPath = join(dir, 'prosody.log');
    this.certPath = certPath;
    this._c2sPort = c2sPort;
    this._s2sPort = s2sPort;
  }

  get c2sPort(): number { return this._c2sPort; }
  get s2sPort(): number { return this._s2sPort; }

  /** Write config, create cert and users, start Prosody, wait until c2s and s2s accept. */
  static async start(opts: ProsodyOptions): Promise<ProsodyServer> {
    if (!prosodyAvailable()) throw new ProsodyError('PROSODY_NOT_INSTALLED', 'prosody is not installed');
    if (!DOMAIN_RE.test(opts.domain)) throw new ProsodyError('PROSODY_BAD_OPTIONS', `bad domain ${opts.domain}`);
    if (!/^127\.\d+\.\d+\.\d+$/.test(opts.ip)) throw new ProsodyError('PROSODY_BAD_OPTIONS', `ip must be 127.x.y.z: ${opts.ip}`);
    for (const d of [...Object.keys(opts.peers), ...(opts.components ?? []).map((c) => c.domain)]) {
      if (!DOMAIN_RE.test(d)) throw new ProsodyError('PROSODY_BAD_OPTIONS', `bad peer or component domain ${d}`);
    }
    installExitHook();
    const dir = mkdtempSync(join(tmpdir(), `prosody-${opts.domain}-`));
    mkdirSync(join(dir, 'data'), { mode: 0o750 });
    mkdirSync(join(dir, 'certs'));
    const { cert, key } = opts.certificate ?? makeCert(join(dir, 'certs'), opts.domain);
    // Ports picked by the OS can be taken again before Prosody binds them: retry with new ones.
    const autoPorts = opts.c2sPort === undefined && opts.s2sPort === undefined;
    let lastErr: unknown;
    for (let attempt = 0; attempt < (autoPorts ? 3 : 1); attempt++) {
      const c2s = opts.c2sPort ?? await freePort(opts.ip);
      let s2s = opts.s2sPort ?? await freePort(opts.ip);
      while (s2s === c2s) s2s = await freePort(opts.ip);
      const server = new ProsodyServer({ ...opts, peers: { ...opts.peers } }, dir, c2s, s2s, cert);
      try {
        server.writeConfig(cert, key);
        if (attempt === 0) server.registerUsers();
        await server.launch();
        return server;
      } catch (err) {
        lastErr = err;
        await server.kill();
        if (!/already in use|Failed to open server port/i.test(server.logTail(50))) break;
      }
    }
    if (!opts.keepDir && process.env.PROSODY_KEEP_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
    throw lastErr;
  }

  private writeConfig(cert: string, key: string): void {
    this.keyPaths = { cert, key };
    const o = this.opts;
    const tls = o.s2sTls ?? 'optional';
    const modules = ['roster', 'saslauth', 'tls', 'dialback', 'disco', 'ping', 'satrelay_test_routes', ...(o.extraModules ?? [])];
    const routes = Object.entries(o.peers)
      .map(([d, p]) => `  [${luaString(d)}] = { host = ${luaString(p.host)}, port = ${Number(p.port)} };`).join('\n');
    const cfg = `-- generated by test/helpers/prosody.ts
run_as_root = true
certificates = ${luaString(join(this.dir, 'certs'))}
pidfile = ${luaString(join(this.dir, 'prosody.pid'))}
data_path = ${luaString(join(this.dir, 'data'))}
plugin_paths = { ${luaString(PLUGIN_DIR)} }
log = { { levels = { min = ${luaString(o.logLevel ?? 'debug')} }, to = "file", filename = ${luaString(this.logPath)} } }
interfaces = { ${luaString(this.ip)} }
local_interfaces = { ${luaString(this.ip)} }
c2s_interfaces = { ${luaString(this.ip)} }
s2s_interfaces = { ${luaString(this.ip)} }
c2s_ports = { ${this._c2sPort} }
s2s_ports = { ${this._s2sPort} }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
use_ipv6 = false
modules_enabled = { ${modules.map(luaString).join(', ')} }
modules_disabled = { ${o.offline ? '' : '"offline"'} }
authentication = "internal_plain"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
s2s_secure_auth = false
s2s_require_encryption = ${tls === 'required' ? 'true' : 'false'}
s2s_allow_encryption = ${tls === 'off' ? 'false' : 'true'}
s2s_timeout = 30
satrelay_test_routes = {
${routes}
}
${o.extraConfig ?? ''}

VirtualHost ${luaString(o.domain)}
  ssl = { certificate = ${luaString(cert)}, key = ${luaString(key)}; ${o.sslExtra ?? ''} }
${(o.components ?? []).map((c) => `
Component ${luaString(c.domain)} ${luaString(c.module)}
  ssl = { certificate = ${luaString(cert)}, key = ${luaString(key)} }
${c.config ?? ''}`).join('')}`;
    writeFileSync(this.configPath, cfg);
  }

  private registerUsers(): void {
    if (this.opts.fastUsers) {
      // Prosody's internal storage: data/<host, "." as %2e>/accounts/<user>.dat, a Lua table.
      const dir = join(this.dir, 'data', this.domain.replace(/\./g, '%2e'), 'accounts');
      mkdirSync(dir, { recursive: true });
      for (const u of this.opts.users ?? []) {
        if (!/^[a-z0-9_]+$/.test(u.user)) throw new ProsodyError('PROSODY_BAD_OPTIONS', `fastUsers: plain lower-case user names only, got ${u.user}`);
        writeFileSync(join(dir, `${u.user}.dat`), `return {\n\t["password"] = ${luaString(u.password)};\n};\n`);
      }
      return;
    }
    for (const u of this.opts.users ?? []) {
      const r = spawnSync(PROSODYCTL_BIN, ['--config', this.configPath, 'register', u.user, this.domain, u.password], { encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) {
        throw new ProsodyError('PROSODY_REGISTER_FAILED', `prosodyctl register ${u.user}@${this.domain} failed (${r.status}): ${r.stdout}${r.stderr}`);
      }
    }
  }

  private async launch(): Promise<void> {
    this.stopped = false;
    let output = '';
    const child = spawn(PROSODY_BIN, ['-F', '--config', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    this.child = child;
    live.add(child);
    child.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code) => { exitCode = code; live.delete(child); resolve(); });
      child.once('error', () => { exitCode = -1; live.delete(child); resolve(); });
    });
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 15_000);
    for (;;) {
      if (exitCode !== undefined) {
        throw new ProsodyError('PROSODY_START_FAILED', `prosody ${this.domain} exited (${exitCode}) during startup:\n${output}\n${this.logTail(30)}`);
      }
      if (await canConnect(this.ip, this._c2sPort) && await canConnect(this.ip, this._s2sPort)) return;
      if (Date.now() > deadline) {
        throw new ProsodyError('PROSODY_START_FAILED', `prosody ${this.domain} did not open ports ${this._c2sPort}/${this._s2sPort} in time:\n${output}\n${this.logTail(30)}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  private async kill(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
  }

  /** Stop Prosody and remove its temp dir (unless keepDir / PROSODY_KEEP_DIRS=1). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.kill();
    if (!this.opts.keepDir && process.env.PROSODY_KEEP_DIRS !== '1') rmSync(this.dir, { recursive: true, force: true });
  }

  /** Replace the S2S routes (rewrites the config) and restart Prosody. */
  async setPeers(peers: Record<string, ProsodyPeer>): Promise<void> {
    this.opts.peers = peers;
    this.writeConfig(this.keyPaths.cert, this.keyPaths.key);
    await this.restart();
  }

  /** Restart on the same ports with the same data (accounts, rosters survive). */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** True while the Prosody process runs. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Last `n` lines of the Prosody log file ('' if none yet). */
  logTail(n = 50): string {
    try {
      const lines = readFileSync(this.logPath, 'utf8').split('\n');
      return lines.slice(Math.max(0, lines.length - n - 1)).join('\n');
    } catch {
      return '';
    }
  }

  /** Resolve with the first log line matching `re` (polls the log file every 50 ms). */
  async waitForLog(re: RegExp, timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.log().split('\n').find((l) => re.test(l));
      if (line !== undefined) return line;
      if (Date.now() > deadline) throw new ProsodyError('PROSODY_TIMEOUT', `${this.domain}: no log line matching ${re} in ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** S2S sessions with `remote` that completed, per direction, and how many were TLS-encrypted (from the debug log). */
  s2sStatus(remote: string): { outgoing: number; incoming: number; encrypted: number } {
    const text = this.log();
    const count = (re: RegExp): number => (text.match(re) ?? []).length;
    const esc = (d: string): string => d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return {
      outgoing: count(new RegExp(`Outgoing s2s connection ${esc(this.domain)}->${esc(remote)} complete`, 'g')),
      incoming: count(new RegExp(`Incoming s2s connection ${esc(remote)}->${esc(this.domain)} complete`, 'g')),
      encrypted: count(/ s2s(?:in|out)\w*\tinfo\tStream encrypted/g),
    };
  }

  /** Whole log text (for assertions such as "s2s connection established"). */
  log(): string {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }
}

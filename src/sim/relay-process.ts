/**
 * Relays as processes (as in production): `satrelay run -c site.yaml` as a
 * child (node --import tsx src/cli/main.ts, so kill -9 hits the relay
 * itself) with an IPC channel. Ready when the metrics endpoint answers (when
 * given a port) or when the child says so over IPC (cli/run-ipc.ts); usage()
 * asks the child for its own CPU time, peak RSS and link counters. /proc
 * samples (VmRSS, open fds) per incarnation (a restart starts a new one).
 * The bench (world.ts) and the soak (bench/soak) both run relays this way.
 */
import type { MeteredStatus } from '../link/port.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, readdirSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
// The relay's entry in the form this module runs in: compiled (npm test's build/) or TypeScript through tsx.
const MAIN = import.meta.url.endsWith('.js') ? [join(ROOT, 'src/cli/main.js')] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

export interface Sample {
  /** ms since the run started */
  at: number;
  rssKb: number;
  fds: number;
}

export interface Incarnation {
  pid: number;
  startedAt: number;
  endedAt?: number;
  /** how it ended: killed by the harness, stopped at the end, or exited by itself (a crash). */
  end?: 'killed' | 'stopped' | 'crashed';
  exitCode?: number | null;
  samples: Sample[];
}

/** What a relay child reports about itself over IPC (cli/run-ipc.ts answers). */
export interface RelayUsage {
  /** process.cpuUsage() user + system, µs since the process started. */
  cpu_us: number;
  /** process.resourceUsage().maxRSS, kB. */
  max_rss_kb: number;
  /** stats() of each constrained link (link core counters), by link name. */
  links: Array<{ name: string; headerBytes: number; retransmits: number; stanzaBytesIn: number; compressedBytesOut: number; outageBytes: number; peerMoves: number; metered?: MeteredStatus & { heldTotal: number; refused: number } }>;
}

export interface RelayProcessOptions {
  /** extra node flags for the child (e.g. --cpu-prof --cpu-prof-dir=DIR). */
  nodeArgs?: readonly string[];
}

/** /proc/<pid>/status VmRSS (kB) and the number of entries in /proc/<pid>/fd; undefined once the process is gone. */
export function procSample(pid: number): { rssKb: number; fds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const fds = readdirSync(`/proc/${pid}/fd`).length;
    return m ? { rssKb: Number(m[1]), fds } : undefined;
  } catch {
    return undefined;
  }
}

export class RelayProcess {
  readonly incarnations: Incarnation[] = [];
  private child?: ChildProcess;
  private log: WriteStream;
  private expectingExit = false;
  private asked = 0;
  private readonly answers = new Map<number, (u: RelayUsage) => void>();

  /** `metricsPort` undefined: ready when the child says so over IPC. */
  constructor(
    readonly name: 'A' | 'B',
    private readonly configFile: string,
    logFile: string,
    private readonly metricsPort: number | undefined,
    private readonly clock: () => number,
    private readonly onCrash: (name: string, code: number | null, signal: string | null) => void,
    private readonly opts: RelayProcessOptions = {},
  ) {
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get current(): Incarnation | undefined {
    return this.incarnations.at(-1);
  }

  /** Spawns the relay and waits until it is ready. */
  async start(timeoutMs = 30_000): Promise<void> {
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? []), ...MAIN, 'run', '-c', this.configFile], {
      cwd: ROOT,
      env: { ...process.env, SATRELAY_LOG_JSON: '1' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.expectingExit = false;
    const inc: Incarnation = { pid: child.pid!, startedAt: this.clock(), samples: [] };
    this.incarnations.push(inc);
    child.stdout!.pipe(this.log, { end: false });
    child.stderr!.pipe(this.log, { end: false });
    let ready = false;
    child.on('message', (m: { t?: string; id?: number; usage?: RelayUsage }) => {
      if (m.t === 'ready') ready = true;
      else if (m.t === 'usage' && m.id !== undefined && m.usage) {
        this.answers.get(m.id)?.(m.usage);
        this.answers.delete(m.id);
      }
    });
    child.on('exit', (code, signal) => {
      inc.endedAt = this.clock();
      inc.exitCode = code;
      if (!this.expectingExit) {
        inc.end = 'crashed';
        this.onCrash(this.name, code, signal);
      }
    });
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`relay ${this.name} exited during start (code ${child.exitCode})`);
      if (this.metricsPort === undefined) {
        if (ready) break;
      } else {
        try {
          const res = await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`);
          await res.text();
          if (res.ok) break;
        } catch {
          // not listening yet
        }
      }
      if (Date.now() > end) throw new Error(`relay ${this.name} not ready within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, this.metricsPort === undefined ? 20 : 100));
    }
    this.sample();
  }

  /** The child's own CPU time, peak RSS and link counters (cli/run-ipc.ts); rejects when it does not answer. */
  usage(timeoutMs = 10_000): Promise<RelayUsage> {
    const child = this.child;
    if (!child || !this.running || !child.connected) return Promise.reject(new Error(`relay ${this.name} is not running`));
    const id = ++this.asked;
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        rej(new Error(`relay ${this.name} did not report its usage within ${timeoutMs} ms`));
      }, timeoutMs);
      this.answers.set(id, (u) => {
        clearTimeout(timer);
        res(u);
      });
      child.send({ t: 'usage', id });
    });
  }

  /** kill -9, and waits for the exit. */
  async kill9(): Promise<void> {
    await this.end('SIGKILL', 'killed');
  }

  /** SIGTERM (graceful stop), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.end('SIGTERM', 'stopped');
    clearTimeout(timer);
  }

  private async end(signal: NodeJS.Signals, how: 'killed' | 'stopped'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    const inc = this.current!;
    inc.end = how;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await exited;
  }

  /** Samples the running process (no-op when it is down). */
  sample(): Sample | undefined {
    const inc = this.current;
    if (!inc || !this.running) return undefined;
    const s = procSample(inc.pid);
    if (!s) return undefined;
    const sample = { at: this.clock(), ...s };
    inc.samples.push(sample);
    return sample;
  }

  /** Scrapes one metric (sum over its label sets); undefined when the relay does not answer. */
  async metric(name: string): Promise<number | undefined> {
    if (this.metricsPort === undefined) return undefined;
    try {
      const text = await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
      return sum;
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.running) {
      this.expectingExit = true;
      this.child!.kill('SIGKILL');
      await new Promise((r) => this.child!.once('exit', r));
    }
    await new Promise<void>((r) => this.log.end(() => r()));
  }
}

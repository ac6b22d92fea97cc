/**
 * A real headless browser for tests: Debian's chromium (/usr/bin/chromium,
 * installed by .ci/run), driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: commands on fd 3, replies on fd 4, each a JSON
 * message ended by a NUL byte). No browser download, no npm package.
 *
 *   const b = await Browser.launch();
 *   t.teardown(() => b.close());
 *   const page = await b.open('http://127.0.0.1:9105/');
 *   const text = await page.evaluate<string>('document.body.innerText');
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

interface Message { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string }

export class Browser {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Set<(m: Message) => void>();
  private exited = false;

  private constructor(private readonly child: ChildProcess, private readonly profileDir: string) {
    let buf = Buffer.alloc(0);
    (child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (let nul = buf.indexOf(0); nul >= 0; nul = buf.indexOf(0)) {
        const msg = JSON.parse(buf.subarray(0, nul).toString('utf8')) as Message;
        buf = buf.subarray(nul + 1);
        if (msg.id !== undefined) {
          const p = this.pending.get(msg.id);
          this.pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(msg.error.message));
          else p?.resolve(msg.result ?? {});
        } else for (const l of this.listeners) l(msg);
      }
    });
    child.once('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error('chromium exited'));
    });
  }

  /** Starts chromium headless with a fresh profile and no network services of its own. */
  static async launch(): Promise<Browser> {
    const profileDir = mkdtempSync(join(tmpdir(), 'satrelay-chromium-'));
    const child = spawn(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--disable-dev-shm-usage', `--user-data-dir=${profileDir}`, '--remote-debugging-pipe', 'about:blank'],
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], detached: true }, // its own process group: close() ends its helpers too
    );
    const b = new Browser(child, profileDir);
    await b.send('Browser.getVersion');
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error('chromium exited'));
    const id = this.nextId++;
    const msg = JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(msg + '\0');
    });
  }

  /** Resolves with the first event `method` of `sessionId`. */
  private event(method: string, sessionId: string): Promise<Message> {
    return new Promise((resolve) => {
      const l = (m: Message): void => {
        if (m.method === method && m.sessionId === sessionId) {
          this.listeners.delete(l);
          resolve(m);
        }
      };
      this.listeners.add(l);
    });
  }

  /** Opens `url` in a new tab and waits for its load event. */
  async open(url: string): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    await this.send('Page.enable', {}, sessionId);
    const loaded = this.event('Page.loadEventFired', sessionId);
    const nav = (await this.send('Page.navigate', { url }, sessionId)) as { errorText?: string };
    if (nav.errorText) throw new Error(`chromium could not load ${url}: ${nav.errorText}`);
    await loaded;
    return new Page(this, sessionId);
  }

  async close(): Promise<void> {
    const group = (sig: NodeJS.Signals): void => {
      try { process.kill(-this.child.pid!, sig); } catch { /* gone */ }
    };
    if (!this.exited) {
      const gone = new Promise((r) => this.child.once('exit', r));
      group('SIGTERM');
      const t = setTimeout(() => group('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    group('SIGKILL'); // helpers that outlived the browser process still write to the profile
    rmSync(this.profileDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

export class Page {
  constructor(private readonly browser: Browser, private readonly sessionId: string) {}

  /** Value of a JavaScript expression in the page (JSON-serialisable results). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.browser.send('Runtime.evaluate', { expression, returnByValue: true }, this.sessionId)) as { result: { value: T }; exceptionDetails?: { text: string } };
    if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${r.exceptionDetails.text}`);
    return r.result.value;
  }
}

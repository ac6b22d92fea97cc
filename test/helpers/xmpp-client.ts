/**
 * A real XMPP client for interop tests: drives test/helpers/xmpp_client.py (slixmpp)
 * over JSON lines on stdin/stdout.
 *
 * Gives: XmppClient (connect, sendMessage, sendPresence, discoInfo, discoSet, roster, sendRaw,
 * waitFor, received, close) and subscribeBoth(a, b).
 * Every client process is killed on process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'xmpp_client.py');
const PYTHON = '/usr/bin/python3';

export interface StanzaError { condition: string | null; type: string | null; text: string | null }

/** One line printed by the client. Stanza events (message/presence/iq) carry `xml`. */
export interface ClientEvent {
  event: 'ready' | 'message' | 'presence' | 'iq' | 'disco_info' | 'disco_set' | 'roster' | 'failed_auth' | 'disconnected' | 'error' | 'exit';
  from?: string | null;
  to?: string | null;
  type?: string | null;
  id?: string | null;
  body?: string | null;
  show?: string | null;
  status?: string | null;
  error?: StanzaError | string;
  xml?: string;
  req?: string;
  ok?: boolean;
  features?: string[];
  identities?: Array<{ category: string; type: string; name?: string }>;
  items?: Array<{ jid: string; subscription: string; ask: string | null; name: string | null }>;
  [k: string]: unknown;
}

export interface DiscoInfoResult {
  ok: boolean;
  features: string[];
  identities: Array<{ category: string; type: string; name?: string }>;
  error?: string;
  /** node of the result's <query/>, when it has one */
  node?: string;
  /** the whole result iq as received */
  xml?: string;
}

export interface XmppClientOptions {
  jid: string;
  password: string;
  host: string;
  port: number;
  /** STARTTLS on c2s (certificate not verified). Default false: plain TCP. */
  tls?: boolean;
  resource?: string;
  /** Accept and return subscription requests automatically. Default false. */
  autoAccept?: boolean;
  /** Send initial presence after login. Default true. */
  initialPresence?: boolean;
  connectTimeoutMs?: number;
}

export class XmppClientError extends Error {
  constructor(readonly code: 'CLIENT_CONNECT_FAILED' | 'CLIENT_TIMEOUT' | 'CLIENT_CLOSED', message: string) {
    super(message);
    this.name = 'XmppClientError';
  }
}

const live = new Set<ChildProcess>();
let exitHook = false;

interface Waiter { pred: (ev: ClientEvent) => boolean; resolve: (ev: ClientEvent) => void; reject: (err: Error) => void }

/** Bare JID (strip the resource). */
export function bare(jid: string | null | undefined): string {
  return (jid ?? '').split('/')[0] ?? '';
}

export class XmppClient {
  /** Every event received so far, in order. */
  readonly received: ClientEvent[] = [];
  /** Full JID bound by the server. */
  jid = '';
  private waiters = new Set<Waiter>();
  private stderr = '';
  private reqSeq = 0;
  private exited: Promise<void>;
  private closed = false;

  private constructor(private readonly child: ChildProcess, readonly opts: XmppClientOptions) {
    this.exited = new Promise((resolve) => {
      const gone = (info: Record<string, unknown>): void => {
        if (this.closed) return;
        live.delete(child);
        this.closed = true;
        this.push({ event: 'exit', ...info });
        resolve();
      };
      child.once('exit', (code, signal) => gone({ code, signal }));
      child.once('error', (err) => gone({ code: null, spawnError: String(err) })); // e.g. no /usr/bin/python3
    });
    child.stdin?.on('error', () => undefined); // EPIPE after the client died: reported via 'exit'
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-8000); });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let ev: ClientEvent;
      try { ev = JSON.parse(line) as ClientEvent; } catch { ev = { event: 'error', code: 'BAD_OUTPUT', line }; }
      this.push(ev);
    });
  }

  /** Start the client, log in, wait for session start (initial presence sent unless disabled). */
  static async connect(opts: XmppClientOptions): Promise<XmppClient> {
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });
    }
    const child = spawn(PYTHON, [SCRIPT, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(child);
    const client = new XmppClient(child, opts);
    const ev = await client.waitFor((e) => e.event === 'ready' || e.event === 'failed_auth' || e.event === 'exit' || e.event === 'disconnected',
      opts.connectTimeoutMs ?? 15_000).catch(async (err: unknown) => { await client.close(); throw err; });
    if (ev.event !== 'ready') {
      await client.close();
      throw new XmppClientError('CLIENT_CONNECT_FAILED', `${opts.jid} could not log in to ${opts.host}:${opts.port}: ${ev.event} ${client.stderr}`);
    }
    client.jid = String(ev.jid ?? opts.jid);
    return client;
  }

  private push(ev: ClientEvent): void {
    this.received.push(ev);
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) { this.waiters.delete(w); w.resolve(ev); }
      else if (ev.event === 'exit') {
        // The client process is gone: nothing more can arrive.
        this.waiters.delete(w);
        w.reject(new XmppClientError('CLIENT_CLOSED', `${this.opts.jid}: client exited while waiting; stderr:\n${this.stderr}`));
      }
    }
  }

  private send(cmd: Record<string, unknown>): void {
    if (this.closed || !this.child.stdin?.writable) throw new XmppClientError('CLIENT_CLOSED', `${this.opts.jid}: client is closed`);
    this.child.stdin.write(JSON.stringify(cmd) + '\n');
  }

  sendMessage(to: string, body: string, opts: { id?: string; type?: string } = {}): void {
    this.send({ cmd: 'message', to, body, id: opts.id, type: opts.type });
  }

  sendPresence(attrs: { to?: string; type?: string; show?: string; status?: string } = {}): void {
    this.send({ cmd: 'presence', ...attrs });
  }

  /** Send raw XML on the c2s stream. */
  sendRaw(xml: string): void {
    this.send({ cmd: 'raw', xml });
  }

  /** disco#info query (XEP-0030 §3.1), optionally for a node (e.g. a caps node#ver, XEP-0115 §6.2). */
  async discoInfo(to: string, timeoutMs = 10_000, opts: { node?: string } = {}): Promise<DiscoInfoResult> {
    const req = `d${++this.reqSeq}`;
    const wait = this.waitFor((e) => e.event === 'disco_info' && e.req === req, timeoutMs + 2000);
    this.send({ cmd: 'disco_info', to, req, timeout: timeoutMs / 1000, node: opts.node });
    const ev = await wait;
    const out: DiscoInfoResult = { ok: ev.ok === true, features: ev.features ?? [], identities: ev.identities ?? [] };
    if (typeof ev.error === 'string') out.error = ev.error;
    if (typeof ev.node === 'string') out.node = ev.node;
    if (typeof ev.xml === 'string') out.xml = ev.xml;
    return out;
  }

  /** Makes this client answer disco#info queries for `node` with these identities and features. */
  async discoSet(node: string, identities: Array<{ category: string; type: string; name?: string }>, features: string[]): Promise<void> {
    const seen = this.received.filter((e) => e.event === 'disco_set' && e.node === node).length;
    const wait = this.waitFor((e) => e.event === 'disco_set' && e.node === node && this.received.filter((x) => x.event === 'disco_set' && x.node === node).length > seen);
    this.send({ cmd: 'disco_set', node, identities, features });
    await wait;
  }

  async roster(timeoutMs = 10_000): Promise<NonNullable<ClientEvent['items']>> {
    const req = `r${++this.reqSeq}`;
    const wait = this.waitFor((e) => e.event === 'roster' && e.req === req, timeoutMs + 2000);
    this.send({ cmd: 'roster', req, timeout: timeoutMs / 1000 });
    const ev = await wait;
    if (!ev.ok) throw new XmppClientError('CLIENT_TIMEOUT', `${this.opts.jid}: roster get failed: ${String(ev.error)}`);
    return ev.items ?? [];
  }

  /** Resolve with the first event (already received or future) matching `pred`. */
  waitFor(pred: (ev: ClientEvent) => boolean, timeoutMs = 10_000): Promise<ClientEvent> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.closed) return Promise.reject(new XmppClientError('CLIENT_CLOSED', `${this.opts.jid}: client has exited`));
    const p = new Promise<ClientEvent>((resolve, reject) => {
      const w: Waiter = {
        pred,
        resolve: (ev) => { clearTimeout(timer); resolve(ev); },
        reject: (err) => { clearTimeout(timer); reject(err); },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new XmppClientError('CLIENT_TIMEOUT', `${this.opts.jid}: no matching event in ${timeoutMs} ms; last events:\n` +
          this.received.slice(-8).map((e) => JSON.stringify(e)).join('\n')));
      }, timeoutMs);
      this.waiters.add(w);
    });
    // A waiter nobody awaits yet must not crash the test worker when it rejects.
    p.catch(() => undefined);
    return p;
  }

  /** Wait until `n` events match `pred` (counting those already received); returns all matches in order. */
  async waitForCount(pred: (ev: ClientEvent) => boolean, n: number, timeoutMs = 10_000): Promise<ClientEvent[]> {
    await this.waitFor((ev) => pred(ev) && this.received.filter(pred).length >= n, timeoutMs);
    return this.received.filter(pred);
  }

  /** Messages received (event 'message'), optionally only from `fromBare`. */
  messages(fromBare?: string): ClientEvent[] {
    return this.received.filter((e) => e.event === 'message' && (fromBare === undefined || bare(e.from) === fromBare));
  }

  /** Disconnect cleanly (closing stream), then make sure the process is gone. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) {
      try { this.send({ cmd: 'close' }); } catch { /* already closed */ }
      try { this.child.stdin?.end(); } catch { /* ignore */ }
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 4000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}

/**
 * Make a and b mutually subscribed (RFC 6121 §3) and wait until each has seen the
 * other's available presence. Works across servers (S2S); both must be online.
 */
export async function subscribeBoth(a: XmppClient, b: XmppClient, timeoutMs = 20_000): Promise<void> {
  const aBare = bare(a.jid);
  const bBare = bare(b.jid);
  const isPres = (from: string, type: string | null) => (e: ClientEvent): boolean =>
    e.event === 'presence' && bare(e.from) === from && (e.type ?? null) === type;
  a.sendPresence({ to: bBare, type: 'subscribe' });
  await b.waitFor(isPres(aBare, 'subscribe'), timeoutMs);
  b.sendPresence({ to: aBare, type: 'subscribed' });
  b.sendPresence({ to: aBare, type: 'subscribe' });
  await a.waitFor(isPres(bBare, 'subscribe'), timeoutMs);
  a.sendPresence({ to: bBare, type: 'subscribed' });
  // Approval makes each server send the contact's current presence (RFC 6121 §3.1.5).
  await Promise.all([
    a.waitFor(isPres(bBare, null), timeoutMs),
    b.waitFor(isPres(aBare, null), timeoutMs),
  ]);
}

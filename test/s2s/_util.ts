/** Shared helpers for the s2s tests: service factory, raw socket client, waits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { S2SService, type S2SOptions } from '../../src/s2s/index.ts';
import { CertStore } from '../../src/s2s/tls/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import type { StanzaError } from '../../src/xmpp/errors.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { dialbackKey } from '../../src/s2s/dialback-key.ts';

export interface Harness {
  svc: S2SService;
  port: number;
  got: Array<{ el: XmlElement; from: string; to: string }>;
  undeliverable: Array<{ el: XmlElement; err: StanzaError }>;
  routes: Record<string, string>;
  metrics: Metrics;
  secret: Buffer;
}

export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-s2s-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A started S2SService on 127.0.0.1:0, stopped at teardown. */
export async function service(
  t: ExecutionContext,
  o: { local: string[]; served: string[]; tls: 'off' | 'optional' | 'required'; certs?: CertStore; rejectUntrusted?: boolean } & Partial<Omit<S2SOptions, 'tls'>>,
): Promise<Harness> {
  const got: Harness['got'] = [];
  const undeliverable: Harness['undeliverable'] = [];
  const routes: Record<string, string> = { ...(o.routes ?? {}) };
  const metrics = new Metrics();
  const secret = randomBytes(32);
  const certs = o.certs ?? new CertStore({ dir: tempDir(t) });
  const svc = new S2SService({
    listen: ['127.0.0.1:0'],
    maxStanzaBytes: 64 * 1024,
    secret,
    metrics,
    ...o,
    localDomains: o.local,
    servedDomains: (d) => o.served.includes(d),
    routes,
    tls: { certs, require: o.tls === 'required', enabled: o.tls !== 'off', rejectUntrusted: o.rejectUntrusted },
    onStanza: o.onStanza ?? ((el, ctx) => void got.push({ el, ...ctx })),
    onUndeliverable: (el, err) => void undeliverable.push({ el, err }),
  });
  await svc.start();
  t.teardown(() => svc.stop());
  return { svc, port: svc.addresses[0].port, got, undeliverable, routes, metrics, secret };
}

export async function until(pred: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A raw TCP client that accumulates everything it receives. */
export class RawClient {
  text = '';
  closed = false;
  constructor(readonly sock: Socket) {
    sock.on('data', (b) => (this.text += b.toString('utf8')));
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => (this.closed = true));
  }

  static async connect(t: ExecutionContext, port: number): Promise<RawClient> {
    const sock = connect({ host: '127.0.0.1', port });
    await new Promise<void>((res, rej) => sock.once('connect', () => res()).once('error', rej));
    t.teardown(() => void sock.destroy());
    return new RawClient(sock);
  }

  send(s: string | Buffer): void {
    this.sock.write(s);
  }

  async waitFor(re: RegExp, ms = 5000): Promise<RegExpMatchArray> {
    let m: RegExpMatchArray | null = null;
    await until(() => (m = this.text.match(re)) !== null, ms, String(re));
    return m!;
  }

  /** The condition of the <stream:error> received, after the stream closed. */
  async streamError(ms = 5000): Promise<string> {
    const m = await this.waitFor(/<stream:error>\s*<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/, ms);
    await this.waitFor(/<\/stream:stream>/, ms);
    await until(() => this.closed, ms, 'socket close');
    return m[1];
  }
}

export const header = (from: string, to: string, extra = ''): string =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='${from}' to='${to}' version='1.0'${extra}>`;

/**
 * A raw stream a.example -> `to` on X, authenticated by dialback with a key
 * from Y's secret (Y plays a.example's authoritative server).
 */
export async function dialbackStream(t: ExecutionContext, X: Harness, Y: Harness, to = 'b.example'): Promise<RawClient> {
  const c = await RawClient.connect(t, X.port);
  c.send(header('a.example', to));
  const id = (await c.waitFor(/<stream:stream [^>]*id='([0-9a-f]+)'/))[1];
  await c.waitFor(/<\/stream:features>|<stream:features\/>/);
  c.send(`<db:result from='a.example' to='${to}'>${dialbackKey(Y.secret, to, 'a.example', id)}</db:result>`);
  await c.waitFor(new RegExp(`<db:result from="${to}" to="a.example" type="valid"/>`));
  return c;
}

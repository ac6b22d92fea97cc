/**
 * TCP driver: link frames on a byte stream, each prefixed by its length.
 *
 *   +--------+--------+------------------+
 *   | length (u16 BE) | frame (length B) |   length 0 = keepalive, ignored
 *   +--------+--------+------------------+
 *
 * The side given `peer` dials it and re-dials with exponential back-off
 * whenever the connection drops; the other side listens on `bind` and keeps
 * the newest connection (an older one is closed: the peer re-dialled after a
 * loss we had not noticed yet). While disconnected nothing is polled from
 * the endpoint; frames lost with a dropped connection are the ARQ's business.
 */
import net from 'node:net';
import { DriverBase, DriverError, parseHostPort, type DriverBaseOptions, type DriverHooks, type HostPort, type LinkEndpointLike } from './driver.ts';
import { ConnectWatch, type ConnectFailure } from './connect-watch.ts';
import { Backoff } from './backoff.ts';
import type { Cancel } from '../../time/index.ts';

export interface TcpDriverOptions extends DriverBaseOptions {
  /** Listen address (listening side) or local address to dial from (dialling side, optional). */
  bind?: string | HostPort;
  /** Partner address: when set, this side dials. */
  peer?: string | HostPort;
  /** Re-dial back-off, ms (default 250 .. 10000, doubling). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Largest frame accepted (<= 65535, default 65535). A larger length closes the connection. */
  maxFrame?: number;
}

const HDR = 2;

/**
 * Incremental u16-length-prefix decoder. A length over maxFrame sets `error`
 * (DRIVER_FRAME_TOO_LARGE): frames before it are still returned, nothing after.
 */
export class LengthPrefixDecoder {
  private buf: Buffer = Buffer.alloc(0);
  error: DriverError | undefined;
  constructor(private readonly maxFrame: number) {}

  push(chunk: Buffer): Buffer[] {
    if (this.error) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    while (this.buf.length - off >= HDR) {
      const len = this.buf.readUInt16BE(off);
      if (len > this.maxFrame) {
        this.error = new DriverError('DRIVER_FRAME_TOO_LARGE', `frame length ${len} > ${this.maxFrame}`);
        this.buf = Buffer.alloc(0);
        return out;
      }
      if (this.buf.length - off < HDR + len) break;
      if (len > 0) out.push(Buffer.from(this.buf.subarray(off + HDR, off + HDR + len)));
      off += HDR + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
    return out;
  }
}

export function encodeLengthPrefixed(frame: Buffer): Buffer {
  if (frame.length > 0xffff) throw new DriverError('DRIVER_FRAME_TOO_LARGE', `frame of ${frame.length} bytes does not fit a u16 length`);
  const out = Buffer.allocUnsafe(HDR + frame.length);
  out.writeUInt16BE(frame.length, 0);
  frame.copy(out, HDR);
  return out;
}

export class TcpLinkDriver extends DriverBase {
  private readonly bindAddr?: HostPort;
  private readonly peer?: HostPort;
  private readonly maxFrame: number;
  private server: net.Server | undefined;
  private sock: net.Socket | undefined;
  private readonly backoff: Backoff;
  private redial: Cancel | undefined;
  private readonly watch?: ConnectWatch;

  constructor(endpoint: LinkEndpointLike, opts: TcpDriverOptions, hooks: DriverHooks) {
    super(endpoint, opts, hooks);
    this.bindAddr = opts.bind === undefined ? undefined : parseHostPort(opts.bind);
    this.peer = opts.peer === undefined ? undefined : parseHostPort(opts.peer);
    if (!this.peer && !this.bindAddr) throw new DriverError('DRIVER_BAD_OPTIONS', 'tcp driver needs bind (listen) or peer (dial)');
    this.maxFrame = Math.min(opts.maxFrame ?? 0xffff, 0xffff);
    this.backoff = new Backoff(opts.reconnectMinMs ?? 250, opts.reconnectMaxMs ?? 10_000);
    if (this.peer) this.watch = new ConnectWatch({ target: `${this.peer.host}:${this.peer.port}`, log: this.log, metrics: this.metrics, labels: this.labels, now: () => this.clock.wall() });
  }

  failing(): ConnectFailure | undefined {
    return this.watch?.state;
  }

  async start(): Promise<void> {
    if (this.closed) throw new DriverError('DRIVER_CLOSED', 'driver closed');
    if (this.peer) {
      this.dial();
      return;
    }
    const srv = net.createServer((s) => this.attach(s, 'accepted'));
    this.server = srv;
    srv.on('error', (err) => this.log.warn({ err, link: this.labels.link }, 'tcp server error'));
    const b = this.bindAddr!;
    await new Promise<void>((res, rej) => {
      srv.once('error', rej);
      srv.listen(b.port, b.host, () => {
        srv.off('error', rej);
        res();
      });
    }).catch((err: Error) => {
      throw new DriverError('DRIVER_START_FAILED', `tcp listen ${b.host}:${b.port}: ${err.message}`);
    });
  }

  /** The listening address (listening side). */
  address(): HostPort {
    const a = this.server?.address();
    if (!a || typeof a === 'string') throw new DriverError('DRIVER_CLOSED', 'not listening');
    return { host: a.address, port: a.port };
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.sock !== undefined;
  }

  private dial(): void {
    if (this.closed) return;
    const p = this.peer!;
    const s = net.connect({ host: p.host, port: p.port, localAddress: this.bindAddr?.host });
    this.metrics.inc('link_driver_dials_total', this.labels);
    s.once('connect', () => {
      this.backoff.reset();
      this.watch?.connected();
      this.attach(s, 'dialled');
    });
    s.once('error', (err) => {
      if (this.sock !== s && !this.closed) this.watch?.failed(err.message);
    });
    s.once('close', () => {
      if (this.sock === s) return; // handled by attach's close handler
      this.scheduleRedial();
    });
  }

  private scheduleRedial(): void {
    if (this.closed || this.redial) return;
    this.redial = this.clock.schedule(this.backoff.next(), () => {
      this.redial = undefined;
      this.dial();
    });
  }

  private attach(s: net.Socket, how: 'accepted' | 'dialled'): void {
    if (this.closed) {
      s.destroy();
      return;
    }
    if (this.sock) {
      this.metrics.inc('link_driver_connections_replaced_total', this.labels);
      this.sock.destroy();
    }
    this.sock = s;
    s.setNoDelay(true);
    const dec = new LengthPrefixDecoder(this.maxFrame);
    this.log.info({ link: this.labels.link, how, remote: `${s.remoteAddress}:${s.remotePort}` }, 'tcp link connected');
    this.metrics.inc('link_driver_connects_total', { ...this.labels, how });
    s.on('data', (chunk: Buffer) => {
      const frames = dec.push(chunk);
      for (const f of frames) {
        if (this.sock !== s) return;
        this.input(f);
      }
      if (dec.error) {
        this.metrics.inc('link_driver_dropped_total', { ...this.labels, reason: 'frame_too_large' });
        this.log.warn({ err: dec.error, link: this.labels.link }, 'tcp framing error, closing connection');
        s.destroy();
      }
    });
    s.on('drain', () => this.poke());
    s.on('error', (err) => this.log.debug({ err: err.message, link: this.labels.link }, 'tcp socket error'));
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = undefined;
      this.metrics.inc('link_driver_disconnects_total', this.labels);
      this.log.info({ link: this.labels.link }, 'tcp link disconnected');
      if (!this.closed) this.hooks.onTransport?.(false);
      if (this.peer) this.scheduleRedial();
    });
    this.hooks.onTransport?.(true);
    this.poke();
  }

  protected canSend(): boolean {
    return this.sock !== undefined && !this.sock.writableNeedDrain;
  }

  protected send(frame: Buffer): void {
    if (frame.length > this.maxFrame) {
      this.metrics.inc('link_driver_dropped_total', { ...this.labels, reason: 'tx_too_large' });
      this.log.error({ link: this.labels.link, bytes: frame.length }, 'frame too large for tcp framing, dropped');
      return;
    }
    this.sock!.write(encodeLengthPrefixed(frame));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopLoop();
    this.redial?.();
    this.redial = undefined;
    const s = this.sock;
    this.sock = undefined;
    s?.destroy();
    const srv = this.server;
    this.server = undefined;
    if (srv) await new Promise<void>((res) => srv.close(() => res()));
    if (s) this.hooks.onTransport?.(false);
  }
}

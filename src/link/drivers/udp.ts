/**
 * UDP driver: one link frame per datagram, between `bind` and `peer`.
 * Datagrams from any other address are dropped and counted
 * (link_driver_dropped_total{reason="foreign_peer"}).
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DriverBase, DriverError, familyOf, parseHostPort, type DriverBaseOptions, type DriverHooks, type HostPort, type LinkEndpointLike } from './driver.ts';

export interface UdpDriverOptions extends DriverBaseOptions {
  bind: string | HostPort;
  peer: string | HostPort;
}

export class UdpLinkDriver extends DriverBase {
  private socket: dgram.Socket | undefined;
  private readonly bindAddr: HostPort;
  private peer: HostPort;

  constructor(endpoint: LinkEndpointLike, opts: UdpDriverOptions, hooks: DriverHooks) {
    super(endpoint, opts, hooks);
    this.bindAddr = parseHostPort(opts.bind);
    this.peer = parseHostPort(opts.peer);
  }

  async start(): Promise<void> {
    if (this.closed) throw new DriverError('DRIVER_CLOSED', 'driver closed');
    this.peer = await resolve(this.peer);
    const sock = dgram.createSocket({ type: familyOf(this.bindAddr.host) });
    this.socket = sock;
    sock.on('message', (msg, rinfo) => {
      if (rinfo.address !== this.peer.host || rinfo.port !== this.peer.port) {
        this.metrics.inc('link_driver_dropped_total', { ...this.labels, reason: 'foreign_peer' });
        this.log.debug({ from: `${rinfo.address}:${rinfo.port}` }, 'udp datagram from foreign address dropped');
        return;
      }
      this.input(msg);
    });
    sock.on('error', (err) => {
      this.metrics.inc('link_driver_errors_total', { ...this.labels, op: 'socket' });
      this.log.warn({ err, link: this.labels.link }, 'udp socket error');
    });
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.bind(this.bindAddr.port, this.bindAddr.host, () => {
        sock.off('error', rej);
        res();
      });
    }).catch((err: Error) => {
      this.socket = undefined;
      try { sock.close(); } catch { /* already closed */ }
      throw new DriverError('DRIVER_START_FAILED', `udp bind ${this.bindAddr.host}:${this.bindAddr.port}: ${err.message}`);
    });
    this.hooks.onTransport?.(true);
    this.poke();
  }

  /** The bound local address (useful with port 0). */
  address(): HostPort {
    if (!this.socket) throw new DriverError('DRIVER_CLOSED', 'not started');
    const a = this.socket.address();
    return { host: a.address, port: a.port };
  }

  /** Changes the partner address (IP literal; e.g. after it re-bound on another port). */
  setPeer(peer: string | HostPort): void {
    const hp = parseHostPort(peer);
    if (!isIP(hp.host)) throw new DriverError('DRIVER_BAD_ADDRESS', `setPeer needs an IP address, got ${hp.host}`);
    this.peer = hp;
  }

  protected canSend(): boolean {
    return this.socket !== undefined;
  }

  protected send(frame: Buffer): void {
    this.socket!.send(frame, this.peer.port, this.peer.host, (err) => {
      if (err) {
        this.metrics.inc('link_driver_errors_total', { ...this.labels, op: 'send' });
        this.log.debug({ err }, 'udp send failed');
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopLoop();
    const sock = this.socket;
    this.socket = undefined;
    if (sock) await new Promise<void>((res) => sock.close(() => res()));
    this.hooks.onTransport?.(false);
  }
}

async function resolve(hp: HostPort): Promise<HostPort> {
  if (isIP(hp.host)) return hp;
  try {
    const { address } = await lookup(hp.host);
    return { host: address, port: hp.port };
  } catch (err) {
    throw new DriverError('DRIVER_BAD_ADDRESS', `cannot resolve ${hp.host}: ${(err as Error).message}`);
  }
}

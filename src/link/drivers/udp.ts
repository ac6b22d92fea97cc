/**
 * UDP driver: one link frame per datagram, between `bind` and `peer`.
 * With `peer` set, datagrams from any other address are dropped and counted
 * (link_driver_dropped_total{reason="foreign_peer"}). Without it (roaming.ts)
 * the end takes datagrams from anywhere, sends nothing until the endpoint has
 * taken one, then answers at the address of the last datagram it took.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { DriverBase, DriverError, familyOf, parseHostPort, type DriverBaseOptions, type DriverHooks, type HostPort, type LinkEndpointLike } from './driver.ts';
import type { ConnectFailure } from './connect-watch.ts';
import { RoamingPeer } from './roaming.ts';

export interface UdpDriverOptions extends DriverBaseOptions {
  bind: string | HostPort;
  /** The partner's address; absent: learned from its first authentic datagram and followed when it moves. */
  peer?: string | HostPort;
}

/** Status while a roaming end has not heard its partner (it cannot send before). */
const WAITING = 'no partner address yet: this end has no peer and learns it from the partner\'s first authentic frame; the partner\'s link must set peer to this end\'s bind (its public address)';

export class UdpLinkDriver extends DriverBase {
  private socket: dgram.Socket | undefined;
  private readonly bindAddr: HostPort;
  private peer: HostPort | undefined;
  /** Set when this end has no configured peer. */
  readonly roaming: RoamingPeer | undefined;
  private readonly startedAt = this.clock.wall();

  constructor(endpoint: LinkEndpointLike, opts: UdpDriverOptions, hooks: DriverHooks) {
    super(endpoint, opts, hooks);
    this.bindAddr = parseHostPort(opts.bind);
    this.peer = opts.peer === undefined ? undefined : parseHostPort(opts.peer);
    if (!this.peer) this.roaming = new RoamingPeer({ metrics: this.metrics, log: this.log, labels: this.labels });
  }

  async start(): Promise<void> {
    if (this.closed) throw new DriverError('DRIVER_CLOSED', 'driver closed');
    if (this.peer) this.peer = await resolve(this.peer);
    const sock = dgram.createSocket({ type: familyOf(this.bindAddr.host) });
    this.socket = sock;
    sock.on('message', (msg, rinfo) => {
      const roaming = this.roaming;
      if (roaming) {
        const from = { host: rinfo.address, port: rinfo.port };
        this.input(msg, (taken) => {
          roaming.heard(from, taken);
          this.peer = roaming.current;
        });
        return;
      }
      if (rinfo.address !== this.peer!.host || rinfo.port !== this.peer!.port) {
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
    if (this.roaming) this.log.info({ link: this.labels.link, bind: `${this.bindAddr.host}:${this.bindAddr.port}` }, 'udp link without peer: waiting for the partner\'s first authentic frame to learn its address');
    this.hooks.onTransport?.(true);
    this.poke();
  }

  /** A roaming end that has not heard its partner yet: since when (status). */
  failing(): ConnectFailure | undefined {
    if (!this.roaming || this.peer) return undefined;
    return { lastError: WAITING, since: this.startedAt, attempts: 0 };
  }

  protected override waitsForAddress(): boolean {
    return this.peer === undefined;
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

  /** The address frames go to: the configured peer, or the roaming partner's last address. */
  peerAddress(): HostPort | undefined {
    return this.peer;
  }

  protected canSend(): boolean {
    return this.socket !== undefined && this.peer !== undefined;
  }

  protected send(frame: Buffer): void {
    const to = this.peer!;
    this.socket!.send(frame, to.port, to.host, (err) => {
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

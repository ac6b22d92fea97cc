/**
 * TCP emulator: a proxy (or several, `extra`, on one engine) whose accepted connections cross the engine as byte
 * streams ('ab' client -> target, 'ba' back). All connections share one bearer.
 * The TCP handshake and FIN/RST cross it too, as 40-byte control segments, so
 * a connection costs one round trip before the client may send (RFC 9293 §3.5).
 * Back-pressure: a reader is paused while its direction holds more than the
 * engine's queue limit.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { Direction } from '../engine.ts';
import { parseHostPort, type HostPort } from './address.ts';
import { RealtimeRunner, type DriverOptions, type EmulatorControl, type EmulatorHandle } from './runner.ts';

/** One more listener on the same bearer; `reverse` carries its client -> target bytes in direction 'ba'. */
export interface TcpProxyPair {
  listen: string | HostPort;
  target: string | HostPort;
  reverse?: boolean;
}

export interface TcpEmulatorOptions extends DriverOptions {
  listen: string | HostPort;
  target: string | HostPort;
  /** Carry SYN / SYN-ACK across the bearer before data flows (default true). */
  handshake?: boolean;
  /** Further listen/target pairs sharing this emulator's one engine (e.g. the reverse direction of a federation). */
  extra?: TcpProxyPair[];
  /** Disable Nagle on the proxy's own local sockets (default false), so the proxy legs add no delayed-ACK stalls of their own. */
  noDelay?: boolean;
}

export interface TcpEmulatorHandle extends EmulatorHandle {
  readonly address: AddressInfo;
  /** Bound addresses of every listener: [main, ...extra] in the order given. */
  readonly addresses: AddressInfo[];
  /** Connections currently open. */
  connections(): number;
  /** Runtime faults (outages hold the stream's bytes). */
  readonly control: EmulatorControl;
}

const SEGMENT = 40; // IPv4 + TCP header, the size of a bare SYN/FIN/RST
const CTRL_SYN = 1;
const CTRL_FIN = 2;
const CTRL_RST = 3;

interface Conn {
  id: number;
  /** Direction of client -> target bytes ('ab' unless the pair is reversed), and the other one. */
  up: Direction;
  down: Direction;
  target: HostPort;
  client: net.Socket;
  upstream?: net.Socket;
  open: boolean; // data may flow from the client
  done: { ab: boolean; ba: boolean };
}

export async function startTcpEmulator(opts: TcpEmulatorOptions): Promise<TcpEmulatorHandle> {
  const logger = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const pairs = [
    { listen: parseHostPort(opts.listen, 'listen'), target: parseHostPort(opts.target, 'target'), reverse: false },
    ...(opts.extra ?? []).map((p, i) => ({ listen: parseHostPort(p.listen, `extra[${i}].listen`), target: parseHostPort(p.target, `extra[${i}].target`), reverse: p.reverse ?? false })),
  ];
  const handshake = opts.handshake ?? true;
  const conns = new Map<number, Conn>();
  const paused = new Set<net.Socket>();
  let nextId = 1;

  // Control segments use tag -(id * 4 + kind); data uses tag id.
  const ctrl = (dir: Direction, c: Conn, kind: number): void => runner.send(dir, Buffer.alloc(SEGMENT), 'stream', -(c.id * 4 + kind));

  const runner = new RealtimeRunner({ ...opts, metrics }, (d) => {
    const tag = d.tag ?? 0;
    const c = conns.get(tag > 0 ? tag : Math.floor(-tag / 4));
    if (!c) return;
    const out = d.dir === c.up ? c.upstream : c.client;
    if (tag > 0) {
      out?.write(d.data);
    } else {
      const kind = -tag % 4;
      if (kind === CTRL_SYN && d.dir === c.up) connectUpstream(c);
      else if (kind === CTRL_SYN) openClient(c);
      else if (kind === CTRL_FIN) out?.end();
      else if (kind === CTRL_RST) out?.destroy();
    }
    maybeResume();
  });

  const maybeResume = (): void => {
    if (paused.size === 0) return;
    if (runner.engine.queuedBytes('ab') > runner.engine.queueLimit / 2 || runner.engine.queuedBytes('ba') > runner.engine.queueLimit / 2) return;
    for (const s of paused) s.resume();
    paused.clear();
  };

  const pump = (c: Conn, from: net.Socket, dir: Direction): void => {
    from.on('data', (chunk: Buffer) => {
      runner.send(dir, chunk, 'stream', c.id);
      if (runner.engine.queuedBytes(dir) > runner.engine.queueLimit) {
        from.pause();
        paused.add(from);
      }
    });
    from.on('end', () => {
      c.done[dir] = true;
      ctrl(dir, c, CTRL_FIN);
    });
    from.on('error', (err) => {
      metrics.inc('emulator_tcp_errors_total', { dir });
      logger.debug({ err, conn: c.id, dir }, 'emulator: tcp socket error');
    });
    from.on('close', (hadError) => {
      paused.delete(from);
      if (hadError || !c.done[dir]) ctrl(dir, c, CTRL_RST);
      if (c.client.destroyed && (c.upstream?.destroyed ?? true)) conns.delete(c.id);
    });
  };

  const connectUpstream = (c: Conn): void => {
    if (c.client.destroyed) return;
    const up = net.connect({ host: c.target.host, port: c.target.port, allowHalfOpen: true, noDelay: opts.noDelay ?? false });
    c.upstream = up;
    up.once('connect', () => {
      metrics.inc('emulator_tcp_connections_total');
      if (handshake) ctrl(c.down, c, CTRL_SYN);
      else openClient(c);
    });
    pump(c, up, c.down);
  };

  const openClient = (c: Conn): void => {
    c.open = true;
    c.client.resume();
  };

  const servers: net.Server[] = [];
  const listenPair = async (pair: (typeof pairs)[number]): Promise<void> => {
    const up: Direction = pair.reverse ? 'ba' : 'ab';
    const down: Direction = pair.reverse ? 'ab' : 'ba';
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: opts.noDelay ?? false }, (client) => {
      const c: Conn = { id: nextId++, up, down, target: pair.target, client, open: false, done: { ab: false, ba: false } };
      conns.set(c.id, c);
      pump(c, client, up);
      if (handshake) ctrl(up, c, CTRL_SYN);
      else connectUpstream(c);
    });
    server.on('error', (err) => logger.warn({ err }, 'emulator: tcp listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(pair.listen.port, pair.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    servers.push(server);
  };
  try {
    for (const pair of pairs) await listenPair(pair);
  } catch (err) {
    runner.close();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    throw err;
  }

  let closed: Promise<void> | undefined;
  return {
    address: servers[0].address() as AddressInfo,
    addresses: servers.map((s) => s.address() as AddressInfo),
    connections: () => conns.size,
    control: runner.control,
    stats: () => runner.stats(),
    summary: () => runner.summary(),
    close: () =>
      (closed ??= (async () => {
        runner.close();
        for (const c of conns.values()) {
          c.client.destroy();
          c.upstream?.destroy();
        }
        conns.clear();
        await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      })()),
  };
}

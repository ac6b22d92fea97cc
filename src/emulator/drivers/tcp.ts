/**
 * TCP emulator: a proxy whose accepted connections cross the engine as byte
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
import { RealtimeRunner, type DriverOptions, type EmulatorHandle } from './runner.ts';

export interface TcpEmulatorOptions extends DriverOptions {
  listen: string | HostPort;
  target: string | HostPort;
  /** Carry SYN / SYN-ACK across the bearer before data flows (default true). */
  handshake?: boolean;
}

export interface TcpEmulatorHandle extends EmulatorHandle {
  readonly address: AddressInfo;
  /** Connections currently open. */
  connections(): number;
}

const SEGMENT = 40; // IPv4 + TCP header, the size of a bare SYN/FIN/RST
const CTRL_SYN = 1;
const CTRL_FIN = 2;
const CTRL_RST = 3;

interface Conn {
  id: number;
  client: net.Socket;
  upstream?: net.Socket;
  open: boolean; // data may flow from the client
  done: { ab: boolean; ba: boolean };
}

export async function startTcpEmulator(opts: TcpEmulatorOptions): Promise<TcpEmulatorHandle> {
  const logger = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const listen = parseHostPort(opts.listen, 'listen');
  const target = parseHostPort(opts.target, 'target');
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
    const out = d.dir === 'ab' ? c.upstream : c.client;
    if (tag > 0) {
      out?.write(d.data);
    } else {
      const kind = -tag % 4;
      if (kind === CTRL_SYN && d.dir === 'ab') connectUpstream(c);
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
    const up = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    c.upstream = up;
    up.once('connect', () => {
      metrics.inc('emulator_tcp_connections_total');
      if (handshake) ctrl('ba', c, CTRL_SYN);
      else openClient(c);
    });
    pump(c, up, 'ba');
  };

  const openClient = (c: Conn): void => {
    c.open = true;
    c.client.resume();
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const c: Conn = { id: nextId++, client, open: false, done: { ab: false, ba: false } };
    conns.set(c.id, c);
    pump(c, client, 'ab');
    if (handshake) ctrl('ab', c, CTRL_SYN);
    else connectUpstream(c);
  });
  server.on('error', (err) => logger.warn({ err }, 'emulator: tcp listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  let closed: Promise<void> | undefined;
  return {
    address: server.address() as AddressInfo,
    connections: () => conns.size,
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
        await new Promise<void>((r) => server.close(() => r()));
      })()),
  };
}

/**
 * UDP emulator: datagrams arriving at side A's socket cross the engine in
 * direction 'ab' and leave from side B's socket towards B's forward address,
 * and vice versa. Each relay points its `peer` at its own side's listen port.
 *
 * NAT (params.nat, engine nat.ts): the NATed side's datagrams leave the other
 * side's end from one socket per mapping (mapping 0: that side's listen
 * socket; each rebind opens a new port), so the far relay sees the source
 * port change; what it sends to a port is addressed to that mapping, and the
 * engine drops it if the mapping is no longer live. The sockets of the
 * newest few mappings are kept; older ones close (the NAT forgot them).
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { silentLogger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { Direction } from '../engine.ts';
import { parseHostPort, type HostPort } from './address.ts';
import { RealtimeRunner, type DriverOptions, type EmulatorControl, type EmulatorHandle } from './runner.ts';

export interface UdpSide {
  /** Where this side's relay sends to, e.g. "127.0.0.1:6001" (port 0 = any). */
  listen: string | HostPort;
  /** Where traffic for this side goes; omitted: the last address that sent to `listen`. */
  forward?: string | HostPort;
}

export interface UdpEmulatorOptions extends DriverOptions {
  a: UdpSide;
  b: UdpSide;
}

export interface UdpEmulatorHandle extends EmulatorHandle {
  /** Bound addresses of the two listening sockets. */
  readonly addresses: { a: AddressInfo; b: AddressInfo };
  /** Runtime faults: outage(ms), setLoss(model), rebind() (with params.nat). */
  readonly control: EmulatorControl;
}

/** Sockets of the newest mappings kept open (besides the listen socket); datagrams to older ports are lost, as at a NAT. */
const KEEP_MAPPINGS = 4;

export async function startUdpEmulator(opts: UdpEmulatorOptions): Promise<UdpEmulatorHandle> {
  const logger = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const listen = { a: parseHostPort(opts.a.listen, 'a.listen'), b: parseHostPort(opts.b.listen, 'b.listen') };
  const forward: Record<'a' | 'b', HostPort | undefined> = {
    a: opts.a.forward === undefined ? undefined : parseHostPort(opts.a.forward, 'a.forward'),
    b: opts.b.forward === undefined ? undefined : parseHostPort(opts.b.forward, 'b.forward'),
  };
  const family = (side: 'a' | 'b') => (isIPv6(listen[side].host) ? 'udp6' : 'udp4');
  const sockets = { a: dgram.createSocket(family('a')), b: dgram.createSocket(family('b')) };
  // The side facing the NATed one: one socket per mapping, newest last.
  const far = opts.params.nat ? (opts.params.nat.side === 'a' ? 'b' : 'a') : undefined;
  const mapped = new Map<number, dgram.Socket>([[0, far ? sockets[far] : sockets.a]]);
  const socketFor = (side: 'a' | 'b', mapping: number | undefined): dgram.Socket => {
    if (side !== far || mapping === undefined) return sockets[side];
    let s = mapped.get(mapping);
    if (s) return s;
    s = dgram.createSocket(family(side));
    wire(side, side === 'a' ? 'ab' : 'ba', s, mapping);
    s.bind(0, listen[side].host); // sends wait for the bind
    mapped.set(mapping, s);
    logger.info({ side: opts.params.nat!.side, mapping }, 'emulator: NAT rebinding, a new source port');
    for (const [m, old] of mapped) if (mapped.size > KEEP_MAPPINGS && m !== 0) { mapped.delete(m); old.close(); }
    return s;
  };
  // 'ab' leaves from B towards B's forward address; 'ba' from A.
  const runner = new RealtimeRunner({ ...opts, metrics }, (d) => {
    const side = d.dir === 'ab' ? 'b' : 'a';
    const to = forward[side];
    if (!to) {
      metrics.inc('emulator_no_forward_total', { dir: d.dir });
      logger.debug({ dir: d.dir }, 'emulator: no forward address yet, datagram discarded');
      return;
    }
    socketFor(side, d.mapping).send(d.data, to.port, to.host, (err) => {
      if (err) {
        metrics.inc('emulator_send_errors_total', { dir: d.dir });
        logger.debug({ err, dir: d.dir }, 'emulator: udp send failed');
      }
    });
  });
  function wire(side: 'a' | 'b', dir: Direction, sock = sockets[side], mapping = side === far ? 0 : undefined): void {
    sock.on('message', (msg, rinfo) => {
      if (opts[side].forward === undefined) forward[side] = { host: rinfo.address, port: rinfo.port };
      runner.send(dir, msg, 'datagram', undefined, mapping);
    });
    sock.on('error', (err) => {
      metrics.inc('emulator_socket_errors_total', { side });
      logger.warn({ err, side }, 'emulator: udp socket error');
    });
  }
  wire('a', 'ab');
  wire('b', 'ba');
  try {
    await Promise.all(
      (['a', 'b'] as const).map(
        (side) =>
          new Promise<void>((resolve, reject) => {
            sockets[side].once('error', reject);
            sockets[side].bind(listen[side].port, listen[side].host, () => {
              sockets[side].off('error', reject);
              resolve();
            });
          }),
      ),
    );
  } catch (err) {
    runner.close();
    for (const s of Object.values(sockets)) {
      try {
        s.close();
      } catch {
        // never bound
      }
    }
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    addresses: { a: sockets.a.address(), b: sockets.b.address() },
    control: runner.control,
    stats: () => runner.stats(),
    summary: () => runner.summary(),
    close: () =>
      (closed ??= (async () => {
        runner.close();
        const all = new Set([...Object.values(sockets), ...mapped.values()]);
        await Promise.all([...all].map((s) => new Promise<void>((r) => s.close(() => r()))));
      })()),
  };
}

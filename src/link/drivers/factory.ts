/**
 * Drivers made to order: the relay describes a link's transport
 * (ConstrainedTransport, from the site file) and hands the link a
 * DriverFactory; the link creates its driver with its core, clock and hooks.
 */
import { UdpLinkDriver } from './udp.ts';
import { TcpLinkDriver } from './tcp.ts';
import { SerialLinkDriver } from './serial.ts';
import type { DriverBaseOptions, DriverHooks, LinkDriver, LinkEndpointLike } from './driver.ts';

export type ConstrainedTransport =
  | { kind: 'udp'; bind: string; peer?: string } // no peer: learned from the partner's frames (roaming.ts)
  | { kind: 'tcp'; bind?: string; peer?: string }
  | { kind: 'serial'; device: string; baud: number };

export interface DriverFactory {
  /** The transport's name in status and logs: udp, tcp, serial, ... */
  readonly kind: string;
  /** "udp up on 0.0.0.0:5299", "tcp down to 198.18.0.2:5299": the transport log line. */
  where(up: boolean): string;
  create(endpoint: LinkEndpointLike, base: DriverBaseOptions, hooks: DriverHooks): LinkDriver;
}

/** "udp up on 0.0.0.0:5299", "tcp down to 198.18.0.2:5299", "serial up on /dev/ttyUSB0 at 9600 baud". */
export function transportWhere(t: ConstrainedTransport, up: boolean): string {
  const state = up ? 'up' : 'down';
  if (t.kind === 'serial') return `serial ${state} on ${t.device} at ${t.baud} baud`;
  if (t.kind === 'tcp' && t.peer) return `tcp ${state} to ${t.peer}`;
  return `${t.kind} ${state} on ${t.bind}`;
}

/** The driver for a udp, tcp or serial transport; `reconnect`: the tcp dialler's back-off, ms. */
export function transportDriver(t: ConstrainedTransport, reconnect?: { minMs: number; maxMs: number }): DriverFactory {
  return {
    kind: t.kind,
    where: (up) => transportWhere(t, up),
    create(endpoint, base, hooks) {
      switch (t.kind) {
        case 'udp':
          return new UdpLinkDriver(endpoint, { ...base, bind: t.bind, peer: t.peer }, hooks);
        case 'tcp':
          return new TcpLinkDriver(endpoint, { ...base, bind: t.bind, peer: t.peer, reconnectMinMs: reconnect?.minMs, reconnectMaxMs: reconnect?.maxMs }, hooks);
        case 'serial':
          return new SerialLinkDriver(endpoint, { ...base, device: t.device, baud: t.baud }, hooks);
      }
    },
  };
}

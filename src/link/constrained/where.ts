import type { ConstrainedTransport } from './link.ts';

/** "udp up on 0.0.0.0:5299", "tcp down to 198.18.0.2:5299", "serial up on /dev/ttyUSB0 at 9600 baud": for the transport log line. */
export function transportWhere(t: ConstrainedTransport, up: boolean): string {
  const state = up ? 'up' : 'down';
  if (t.kind === 'serial') return `serial ${state} on ${t.device} at ${t.baud} baud`;
  if (t.kind === 'tcp' && t.peer) return `tcp ${state} to ${t.peer}`;
  return `${t.kind} ${state} on ${t.bind}`;
}

import { EmulatorError } from '../errors.ts';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses "host:port" or "[v6]:port" (port 0 = any). Throws EmulatorError EMU_BAD_ARGS. */
export function parseHostPort(s: string | HostPort, what = 'address'): HostPort {
  if (typeof s === 'object' && s !== null) return s;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s ?? '') ?? /^([^:]+):(\d+)$/.exec(s ?? '');
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new EmulatorError('EMU_BAD_ARGS', `${what}: expected host:port, got ${JSON.stringify(s)}`);
  return { host: m[1], port };
}

import { readHostPort, type HostPort } from '../../config/hostport.ts';
import { EmulatorError } from '../errors.ts';

export type { HostPort };

/** Parses "host:port" or "[v6]:port" (port 0 = any) with config/hostport.ts. Throws EmulatorError EMU_BAD_ARGS naming `what`. */
export function parseHostPort(s: string | HostPort, what = 'address'): HostPort {
  return readHostPort(s, (message) => new EmulatorError('EMU_BAD_ARGS', `${what}: ${message}`));
}

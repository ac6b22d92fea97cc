/**
 * `host:port` strings: IPv4, DNS names and bracketed IPv6 (`[::1]:5269`).
 * The one parser of the project: site files, S2S listeners, link drivers and
 * the emulator all read addresses here. Imports nothing from src/: any layer
 * may import it.
 */
import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

export class HostPortError extends Error {
  readonly code = 'CONFIG_BAD_HOSTPORT' as const;
  constructor(message: string) {
    super(message);
    this.name = 'HostPortError';
  }
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parses `host:port`. IPv6 addresses must be in brackets. Without `defaultPort`
 * the port is required. Throws HostPortError whose message says what was expected.
 * The host is returned without brackets.
 */
export function parseHostPort(s: string, defaultPort?: number): HostPort {
  if (typeof s !== 'string' || s.length === 0) throw new HostPortError('expected "host:port", got an empty string');
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw new HostPortError(`expected "[IPv6]:port", missing "]" in ${JSON.stringify(s)}`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new HostPortError(`expected ":port" after "]" in ${JSON.stringify(s)}`);
    portText = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) throw new HostPortError(`expected an IPv6 address inside [], got ${JSON.stringify(host)}`);
  } else {
    const colons = s.split(':').length - 1;
    if (colons > 1) {
      throw new HostPortError(`expected "host:port" with an IPv6 address in brackets (e.g. "[::1]:5269"), got ${JSON.stringify(s)}`);
    }
    const i = s.lastIndexOf(':');
    host = i < 0 ? s : s.slice(0, i);
    portText = i < 0 ? undefined : s.slice(i + 1);
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) {
      throw new HostPortError(`expected an IPv4 address, host name or [IPv6] before ":port", got ${JSON.stringify(host)}`);
    }
  }
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) throw new HostPortError(`expected "host:port", no port in ${JSON.stringify(s)}`);
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) throw new HostPortError(`expected a port number 0-65535, got ${JSON.stringify(portText)}`);
    port = Number(portText);
    if (port > 65535) throw new HostPortError(`expected a port number 0-65535, got ${port}`);
  }
  return { host, port };
}

/**
 * parseHostPort for modules with their own error type: a HostPortError
 * becomes `fail(message)`; an address already parsed passes through.
 */
export function readHostPort(s: string | HostPort, fail: (message: string) => Error): HostPort {
  if (typeof s === 'object' && s !== null) return s;
  try {
    return parseHostPort(s);
  } catch (err) {
    if (err instanceof HostPortError) throw fail(err.message);
    throw err;
  }
}

/** Canonical text form: `host:port`, IPv6 in brackets. */
export function formatHostPort(hp: HostPort): string {
  return isIP(hp.host) === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** zod schema of a `host:port` value in a config file (hostport.ts parses). */
import { isIP } from 'node:net';
import { z } from 'zod';
import { HostPortError, formatHostPort, parseHostPort } from './hostport.ts';

/** zod: "host:port" (port 0 allowed: the OS picks, unless needPort), canonicalised; ipOnly: the host must be an address. */
export const hostPortSchema = (opts: { defaultPort?: number; needPort?: boolean; ipOnly?: boolean } = {}) =>
  z.string().transform((s, ctx) => {
    try {
      const hp = parseHostPort(s, opts.defaultPort);
      if (opts.needPort && hp.port === 0) {
        ctx.addIssue({ code: 'custom', message: `expected a port 1-65535, got 0` });
        return z.NEVER;
      }
      if (opts.ipOnly && isIP(hp.host) === 0) {
        ctx.addIssue({ code: 'custom', message: `expected an IP address (it is not looked up by name), got ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return formatHostPort(hp);
    } catch (err) {
      if (!(err instanceof HostPortError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.message });
      return z.NEVER;
    }
  });

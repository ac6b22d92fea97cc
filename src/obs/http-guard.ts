/**
 * Limits and counts for the metrics/status HTTP listener: connections at once
 * (in total and per address; one over is closed at once), a connection idle
 * for idleTimeoutMs is closed, a request must arrive whole within
 * requestTimeoutMs; every request is counted by path and status, every
 * connection accepted, refused or timed out; floods are logged at most once
 * per interval (log-limit.ts).
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Metrics } from './metrics.ts';
import { silentLogger, type Logger } from './log.ts';
import { RateLimitedLog } from './log-limit.ts';

export interface HttpLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  idleTimeoutMs: number;
  requestTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxConnections: 32, maxConnectionsPerAddress: 8, idleTimeoutMs: 10_000, requestTimeoutMs: 10_000 };

/** Options for http.createServer: how often Node checks request and header timeouts. */
export function httpServerOptions(limits: HttpLimits): http.ServerOptions {
  return { requestTimeout: limits.requestTimeoutMs, headersTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, limits.requestTimeoutMs) };
}

/**
 * Attaches the limits and counters to `server`. `paths` are the paths counted
 * by name; any other path counts as "other" (an attacker picks paths freely).
 */
export function guardHttpServer(server: http.Server, o: { metrics: Metrics; logger?: Logger; limits?: HttpLimits; paths: readonly string[] }): { close(): void } {
  const limits = o.limits ?? DEFAULT_HTTP_LIMITS;
  const refusals = new RateLimitedLog(o.logger ?? silentLogger, 'metrics listener refused connections over its limit');
  const timeouts = new RateLimitedLog(o.logger ?? silentLogger, 'metrics listener closed idle connections');
  const byAddress = new Map<string, number>();
  let open = 0;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.on('connection', (sock: Socket) => {
    const address = sock.remoteAddress ?? '';
    const here = byAddress.get(address) ?? 0;
    const reason = here >= limits.maxConnectionsPerAddress ? 'per_address' : open >= limits.maxConnections ? 'total' : undefined;
    if (reason) {
      o.metrics.inc('http_connections_refused_total', { reason });
      refusals.hit({ reason, address, open, limit: reason === 'total' ? limits.maxConnections : limits.maxConnectionsPerAddress });
      sock.destroy();
      return;
    }
    open++;
    byAddress.set(address, here + 1);
    o.metrics.inc('http_connections_total');
    o.metrics.set('http_connections_open', open);
    sock.setTimeout(limits.idleTimeoutMs, () => {
      o.metrics.inc('http_connections_timed_out_total');
      timeouts.hit({ address, idle_s: limits.idleTimeoutMs / 1000 });
      sock.destroy();
    });
    sock.once('close', () => {
      open--;
      const n = (byAddress.get(address) ?? 1) - 1;
      if (n > 0) byAddress.set(address, n);
      else byAddress.delete(address);
      o.metrics.set('http_connections_open', open);
    });
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    const label = o.paths.includes(path) ? path : 'other';
    res.once('finish', () => o.metrics.inc('http_requests_total', { path: label, status: res.statusCode }));
  });
  return {
    close: () => {
      refusals.close();
      timeouts.close();
    },
  };
}

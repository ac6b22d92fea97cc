/** HTTP endpoint of a running relay: / (the status page, HTML), /metrics (Prometheus text) and /status (JSON). */
import http from 'node:http';
import type { Metrics } from './metrics.ts';
import type { Logger } from './log.ts';
import { DEFAULT_HTTP_LIMITS, guardHttpServer, httpServerOptions, type HttpLimits } from './http-guard.ts';

export interface ObsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startObsServer(opts: {
  host: string;
  port: number;
  metrics: Metrics;
  status: () => unknown;
  beforeScrape?: () => void;
  page?: () => string;
  limits?: HttpLimits;
  logger?: Logger;
}): Promise<ObsServer> {
  const limits = opts.limits ?? DEFAULT_HTTP_LIMITS;
  const server = http.createServer(httpServerOptions(limits), (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      opts.beforeScrape?.();
      opts.metrics.text().then(
        (body) => {
          res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
          res.end(body);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(opts.status(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    } else if (path === '/' && opts.page) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(opts.page());
    } else {
      res.writeHead(404);
      res.end('not found: try /, /metrics or /status\n');
    }
  });
  const guard = guardHttpServer(server, { metrics: opts.metrics, logger: opts.logger, limits, paths: ['/', '/metrics', '/status'] });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const close = () =>
    new Promise<void>((r) => {
      guard.close();
      server.close(() => r());
      server.closeAllConnections();
    });
  return { port, close };
}

/** HTTP endpoint of a running relay: / (the status page, HTML), /metrics (Prometheus text) and /status (JSON). */
import http from 'node:http';
import type { Metrics } from './metrics.ts';

export interface ObsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startObsServer(opts: { host: string; port: number; metrics: Metrics; status: () => unknown; beforeScrape?: () => void; page?: () => string }): Promise<ObsServer> {
  const server = http.createServer((req, res) => {
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * The metrics/status listener under a flood (real sockets): 2000 requests
 * are counted by path and status (unknown paths as "other"), 1000 idle
 * connections from eleven addresses are held to the per-address and total
 * limits, the excess is closed at once and counted, the log says so in a
 * line or two, and idle connections are closed so scraping works again.
 */
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Metrics } from '../../src/obs/metrics.ts';
import { startObsServer } from '../../src/obs/http.ts';
import { until } from '../helpers/until.ts';

// idle 3 s: Node's client agent keeps a connection for the server's keep-alive hint less one second.
const LIMITS = { maxConnections: 64, maxConnectionsPerAddress: 8, idleTimeoutMs: 3000, requestTimeoutMs: 5000 };

function get(port: number, path: string, agent?: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, localAddress: '127.0.0.1' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

test('2000 requests counted by path and status; 1000 idle connections held to the limits, counted, logged in a line or two, timed out', async (t) => {
  t.timeout(90_000);
  const metrics = new Metrics();
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  const obs = await startObsServer({ host: '127.0.0.1', port: 0, metrics, status: () => ({ ok: true }), limits: LIMITS, logger });
  t.teardown(() => obs.close());

  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  t.teardown(() => agent.destroy());
  const paths = [...Array(1500).fill('/metrics'), ...Array(400).fill('/status'), ...Array.from({ length: 100 }, (_, i) => `/probe-${i}`)];
  const codes: number[] = [];
  for (let i = 0; i < paths.length; i += 50) codes.push(...(await Promise.all(paths.slice(i, i + 50).map((p) => get(obs.port, p, agent)))));
  t.is(codes.length, 2000);
  t.is(metrics.get('http_requests_total', { path: '/metrics', status: 200 }), 1500);
  t.is(metrics.get('http_requests_total', { path: '/status', status: 200 }), 400);
  t.is(metrics.get('http_requests_total', { path: 'other', status: 404 }), 100, 'any other path is one series');
  t.true(metrics.get('http_connections_total') <= 8, `keep-alive: a few connections carried them all (${metrics.get('http_connections_total')}, timed out ${metrics.get('http_connections_timed_out_total')})`);
  agent.destroy();
  await until(() => metrics.get('http_connections_open') === 0, 'the keep-alive connections closed', 10_000);
  const timedOutBefore = metrics.get('http_connections_timed_out_total');

  // The flood: half from one address, half over ten others, all idle.
  const socks: net.Socket[] = [];
  t.teardown(() => socks.forEach((s) => s.destroy()));
  const open = (local: string) =>
    new Promise<void>((resolve) => {
      const s = net.connect({ port: obs.port, host: '127.0.0.1', localAddress: local }, () => resolve());
      s.on('error', () => resolve());
      socks.push(s);
    });
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => i + k).map((j) => open(j % 2 === 0 ? '127.0.0.20' : `127.0.0.${21 + (((j - 1) / 2) % 10)}`)));
  }
  await until(() => metrics.get('http_connections_refused_total') === 1000 - LIMITS.maxConnections, 'every connection over the limits closed', 20_000);
  t.is(metrics.get('http_connections_refused_total', { reason: 'per_address' }), 500 - LIMITS.maxConnectionsPerAddress);
  t.is(metrics.get('http_connections_refused_total', { reason: 'total' }), 500 - (LIMITS.maxConnections - LIMITS.maxConnectionsPerAddress));
  t.true(metrics.get('http_connections_open') <= LIMITS.maxConnections);
  const refusalLines = lines.filter((l) => l.msg === 'metrics listener refused connections over its limit');
  t.true(refusalLines.length >= 1 && refusalLines.length <= 2, `${refusalLines.length} log lines for 936 refusals`);

  // Idle connections are closed; then a scrape gets through.
  await until(() => metrics.get('http_connections_timed_out_total') - timedOutBefore === LIMITS.maxConnections, 'idle connections closed', 20_000);
  t.is(await get(obs.port, '/metrics'), 200);
  t.is(metrics.get('http_requests_total', { path: '/metrics', status: 200 }), 1501);
});

/**
 * obs/ — what a running relay shows: pino logs (one JSON line per event,
 * pretty only on a terminal), a prom-client registry per relay, and the HTTP
 * endpoint with / (status page), /metrics and /status, and the metric catalog.
 * Takes: log events, metric updates, a status snapshot function. Gives:
 * Logger, Metrics, the HTTP server. The bottom row: must not import other
 * satrelay folders.
 */
export { createLogger, silentLogger, type Logger } from './log.ts';
export { Metrics } from './metrics.ts';
export { METRICS, metricInfo, metricsTable, type MetricInfo, type MetricType } from './catalog.ts';
export { startObsServer, type ObsServer } from './http.ts';
export { LinkHistory, RecentErrors, SAMPLE_INTERVAL_MS, type LinkReading, type LinkSample } from './history.ts';
export { renderStatusPage, type PageStatus } from './status-page.ts';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-guard.ts';
export { RateLimitedLog } from './log-limit.ts';

/**
 * obs/ — what a running relay shows: pino logs (one JSON line per event,
 * pretty only on a terminal), a prom-client registry per relay, and the HTTP
 * endpoint with /metrics and /status. Must not import other satrelay folders.
 */
export { createLogger, silentLogger, type Logger } from './log.ts';
export { Metrics } from './metrics.ts';
export { startObsServer, type ObsServer } from './http.ts';
export { DEFAULT_HTTP_LIMITS, type HttpLimits } from './http-guard.ts';
export { RateLimitedLog } from './log-limit.ts';

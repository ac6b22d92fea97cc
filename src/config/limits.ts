/**
 * Connection limits of the site file: unauthenticated S2S connections
 * (`s2s:`) and the metrics/status HTTP listener (`metrics:`). Kept here so
 * site.ts stays small; site.ts spreads these keys into its schema.
 */
import { z } from 'zod';
import { SITE_DEFAULTS as D } from './defaults.ts';

const posInt = () => z.number().int().positive();
const posNum = () => z.number().finite().positive();

/** Keys added to `s2s:`. */
export const s2sLimitKeys = {
  max_pending: posInt().default(D.s2s.max_pending),
  max_pending_per_address: posInt().default(D.s2s.max_pending_per_address),
};

/** Keys added to `metrics:`. */
export const metricsLimitKeys = {
  max_connections: posInt().default(D.metrics.max_connections),
  max_connections_per_address: posInt().default(D.metrics.max_connections_per_address),
  idle_timeout_s: posNum().default(D.metrics.idle_timeout_s),
  request_timeout_s: posNum().default(D.metrics.request_timeout_s),
};

export interface S2SLimitsConfig {
  max_pending: number;
  max_pending_per_address: number;
}

export interface MetricsLimitsConfig {
  max_connections: number;
  max_connections_per_address: number;
  idle_timeout_s: number;
  request_timeout_s: number;
}

/** One line of `satrelay check` output per key (render.ts). */
export const LIMITS_HELP: Record<string, string> = {
  's2s.max_pending': 'unauthenticated inbound S2S connections at once; more are refused (resource-constraint)',
  's2s.max_pending_per_address': 'the same from one address; more are refused (policy-violation)',
  'metrics.max_connections': 'open HTTP connections to the metrics listener at once; more are closed at once',
  'metrics.max_connections_per_address': 'the same from one address',
  'metrics.idle_timeout_s': 'an HTTP connection that sends nothing for this long is closed, s',
  'metrics.request_timeout_s': 'a request must arrive complete within this, s',
};

/**
 * The one place each default of the site file lives, in the site file's
 * units (the schema fills them in; `satrelay check` prints them). Modules
 * outside config/ invent none: where an option is not given (benchmarks,
 * tests, no site file) they fall back to these values, through the `*Ms`
 * helpers in the units they take (s2s/options.ts, s2s/admission.ts,
 * link/xep0361/link.ts, relay/relay.ts).
 *
 * Imports nothing: any layer may read it.
 */

/** RFC 6120 §3.2.1: the port of the xmpp-server service when DNS gives none. */
export const S2S_PORT = 5269;
/** DNS servers given without a port. */
export const DNS_PORT = 53;

export const SITE_DEFAULTS = {
  data_dir: 'data',
  local: {
    listen: [`0.0.0.0:${S2S_PORT}`] as readonly string[],
    tls_require: false,
    /**
     * stanzas of one link written to one local domain before its XEP-0198 ack; 1 keeps the
     * crash guarantee at one repeated stanza per local server (operator guide, "Delivery window")
     */
    delivery_window: 128,
    delivery_window_max: 1024,
  },
  link: {
    /** back-off between reconnect attempts (xep0361, tcp), s */
    reconnect: { min_s: 1, max_s: 60 },
    /** serial line speed, bit/s */
    baud: 9600,
    /** xep0361: resend-and-dedup acks between satrelays */
    acks: true,
    /** links[].bearers: a better bearer must be up this long before the link fails back to it, s */
    failback_hold_s: 20,
  },
  optimize: { presence: 'coalesce', disco_cache: true, fanout: true },
  policy: { allow: ['*'] as readonly string[] },
  metrics: {
    listen: '127.0.0.1:9105',
    max_connections: 32,
    max_connections_per_address: 8,
    idle_timeout_s: 10,
    request_timeout_s: 10,
  },
  log: { level: 'info' },
  limits: {
    max_stanza_bytes: 262_144,
    /** how long a stanza may wait for its destination (link, local server) before it is bounced, s */
    held_stanza_timeout_s: 600,
    spool_max_bytes: 256 * 1024 * 1024,
    spool_max_stanzas: 100_000,
  },
  s2s: {
    connect_timeout_s: 30,
    auth_timeout_s: 30,
    idle_timeout_s: 600,
    dialback: true,
    sasl_external: true,
    max_pending: 128,
    max_pending_per_address: 16,
  },
} as const;

/** S2S session timeouts in ms, from the site file's `s2s:` and `limits:` keys (the hold time of queued stanzas is held_stanza_timeout_s). */
export function s2sTimeoutsMs(
  s2s: { connect_timeout_s: number; auth_timeout_s: number; idle_timeout_s: number } = SITE_DEFAULTS.s2s,
  limits: { held_stanza_timeout_s: number } = SITE_DEFAULTS.limits,
): { connectMs: number; authMs: number; idleMs: number; queueMs: number } {
  return {
    connectMs: s2s.connect_timeout_s * 1000,
    authMs: s2s.auth_timeout_s * 1000,
    idleMs: s2s.idle_timeout_s * 1000,
    queueMs: limits.held_stanza_timeout_s * 1000,
  };
}

/** Unauthenticated inbound S2S connections allowed at once (s2s.max_pending*). */
export function s2sAdmission(s2s: { max_pending: number; max_pending_per_address: number } = SITE_DEFAULTS.s2s): { maxPending: number; maxPendingPerAddress: number } {
  return { maxPending: s2s.max_pending, maxPendingPerAddress: s2s.max_pending_per_address };
}

/** A link's reconnect back-off in ms (links[].reconnect). */
export function reconnectMs(r: { min_s: number; max_s: number } = SITE_DEFAULTS.link.reconnect): { minMs: number; maxMs: number } {
  return { minMs: r.min_s * 1000, maxMs: r.max_s * 1000 };
}

/** held_stanza_timeout_s in ms. */
export function heldTimeoutMs(limits: { held_stanza_timeout_s: number } = SITE_DEFAULTS.limits): number {
  return limits.held_stanza_timeout_s * 1000;
}

/**
 * link/core — the satrelay bearer protocol between two relays, sans-IO.
 *
 * Does: framing to the MTU, selective-repeat ARQ with SACK sized to the
 *   bandwidth-delay product, RFC 6298 RTO and outage probes (outage.ts: the
 *   first stanza crosses within 3 RTT + 1 s of the bearer's return), message-layer deflate with a preset
 *   dictionary and resync, priority scheduling, ChaCha20-Poly1305 with a
 *   pre-shared key, session numbers that only grow (the host stores them) and a
 *   replay window. Wire spec: docs/link-protocol.md.
 * Takes: LinkOptions (tuning, PSK, role, domains, injected randomness, resume
 *   state, session numbers), `now` (ms, any monotonic origin) on every input,
 *   frames as Buffers.
 * Gives: frames to send (pollTransmit), the next deadline (pollTimeout),
 *   events (deliver / acked / up / down / resync / session to store /
 *   partner_version), and counters in a stats() snapshot that the host turns
 *   into metrics (link/constrained/core-metrics.ts).
 * Parts: endpoint.ts orchestrates; session.ts + sealing.ts (AEAD, sessions,
 *   replay), recovery.ts + outage.ts + rtt.ts (ARQ, RTO, loss), acks.ts,
 *   pacing.ts, tx-stream.ts / rx-stream.ts (compression generations,
 *   reassembly), ledger.ts (exactly-once), timers.ts (named timer table).
 * Must not import: sockets, timers, the clock, Math.random, a metrics or
 *   logging library, obs/, spool/, s2s/, drivers/ (drivers import this, not
 *   the reverse).
 */
export { LinkEndpoint, windowFrames, DEFAULT_MAX_STANZA_BYTES } from './endpoint.ts';
export type { LinkTuning, LinkOptions, LinkEvent, LinkStats, FrameResult } from './endpoint.ts';
export { copyCounters, type LinkCounters, type StreamResetReason } from './stats.ts';
export { MAX_SESSION, type SessionState } from './session.ts';
export { LogLimiter, silentCoreLogger, type CoreLogger } from './log.ts';
export { LinkError } from './errors.ts';
export type { LinkErrorCode, DropReason } from './errors.ts';
export { buildDictionary, StreamDeflater, StreamInflater } from './compress.ts';
export { nativeAvailable, type ZlibImpl } from './zstream.ts';

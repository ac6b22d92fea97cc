/**
 * s2s/ — XMPP server-to-server sessions toward the LOCAL servers (RFC 6120,
 * XEP-0220 dialback, XEP-0178 SASL EXTERNAL, XEP-0368 direct TLS, XEP-0198,
 * XEP-0288 bidi).
 *
 * Toward its local servers the relay IS the remote (served) domains: local
 * servers connect in to reach them (inbound listener: STARTTLS, SASL EXTERNAL,
 * dialback receiving role, stanza checks, stanzas handed to onStanza), and the
 * relay connects out to deliver stanzas from them (outbound connector: one
 * session per (served from, local to) pair, STARTTLS, SASL EXTERNAL or
 * dialback originating role, bounded queue until authenticated). db:verify
 * for keys the relay issued is answered on any inbound stream (authoritative
 * role); db:verify for keys it received goes out on the outbound session to
 * the originating domain (receiving role).
 *
 * Files: service.ts (listeners, session table, roles wiring), inbound.ts,
 * outbound.ts, stream.ts (states, the one close path), stanza-check.ts (the
 * RFC 6120 §8 checks both directions apply), runtime.ts (clock, timers,
 * randomness), options.ts; tls/, dns/ and dialback-key.ts are leaf helpers.
 *
 * Takes: S2SOptions (listen addresses, local domain patterns, served-domain
 * predicate, routes, CertStore, dialback secret, limits, callbacks, and an
 * S2SRuntime: sessions read time, set timers and draw random ids only
 * through it, so tests run timeouts and hold times in simulated time).
 * Gives: S2SService (start, addresses, deliver, sessions, stop); onStanza for
 * each checked inbound stanza; onUndeliverable for each outbound stanza that
 * could not be delivered (remote-server-not-found / remote-server-timeout /
 * resource-constraint). Counts in Metrics: s2s_stream_errors_total{condition},
 * s2s_undeliverable_total{condition}, s2s_dropped_total{reason},
 * s2s_dialback_total{role,result}, s2s_auth_total, s2s_sessions_*,
 * s2s_tls_failures_total, s2s_sm_* (XEP-0198), s2s_bidi_total (XEP-0288).
 *
 * XEP-0198 (no resumption) both ways when the peer offers/asks for it: inbound
 * <a/> only counts stanzas whose onStanza promise resolved; outbound stanzas
 * not acknowledged when a stream ends are bounced like queued ones.
 *
 * XEP-0288 bidirectional streams, with S2SOptions.bidi = true (default off):
 * inbound streams offer <bidi/> (after STARTTLS when TLS is on) and, once the
 * peer asked for it and authenticated, carry stanzas from the served domain
 * back to it (the reverse of each authenticated pair, §2.2/§3): deliver() and
 * send() prefer such a stream over an outbound session unless stanzas still
 * wait in that session. Outbound sessions ask for bidi where the local server
 * offers it (unless a bidi stream from that server already covers the reverse
 * direction) and hand the local server's stanzas on it to onStanza, checked
 * like inbound ones (invalid-from, host-unknown, ...). Stanzas written on a
 * bidi inbound stream count as taken when written (no XEP-0198 acks asked for
 * that direction). Dialback keys are never verified on the stream that asked,
 * so a dialback-only pair still opens a second (stanza-free) connection.
 * Counts s2s_bidi_total{direction}; SessionInfo.bidi and .stanzas show it.
 *
 * Must not import: link/, optimize/, relay/ (the relay wires them); from
 * config/ only its leaves hostport.ts (the one host:port parser) and
 * defaults.ts (the one source of each default).
 */
export { systemRuntime, type S2SRuntime, type RuntimeTimer } from './runtime.ts';
export { S2SService, S2SError, type SessionInfo } from './service.ts';
export type { S2SOptions, Timeouts } from './options.ts';
export type { SessionState } from './stream.ts';

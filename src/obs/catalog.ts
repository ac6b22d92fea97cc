/**
 * Every metric the relay can serve: name (without the satrelay_ prefix) ->
 * type, HELP text (what it counts, and its unit) and label names (besides
 * `site`, which every series carries). Metrics takes its HELP from here; the
 * guide's metric reference is generated from it (metricsTable), and a test
 * fails for any metrics.inc/set/observe name in src/ that has no entry.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricInfo {
  type: MetricType;
  help: string;
  labels: readonly string[];
}

const c = (help: string, ...labels: string[]): MetricInfo => ({ type: 'counter', help, labels });
const g = (help: string, ...labels: string[]): MetricInfo => ({ type: 'gauge', help, labels });

/** Emulator direction statistics exported as emulator_<key>_total{dir} (emulator/drivers/runner.ts). */
const EMULATOR_DIR_STATS: Record<string, string> = {
  sent: 'Packets or stream chunks given to the emulated bearer',
  delivered: 'Packets or stream chunks the emulated bearer delivered, duplicates included',
  dropped_loss: 'Packets the emulated bearer lost (loss model)',
  dropped_mtu: 'Packets the emulated bearer dropped for exceeding its MTU',
  dropped_queue: 'Packets the emulated bearer dropped because its queue was full',
  dropped_outage: 'Packets the emulated bearer dropped during a scheduled outage',
  dropped_nat: 'Packets for the NATed side addressed to a source port its NAT no longer maps (rebound or expired), dropped',
  corrupted_packets: 'Delivered packets with at least one flipped bit (bit error rate)',
  bits_flipped: 'Bits flipped by the emulated bearer (bit error rate), bits',
  duplicated: 'Packets the emulated bearer delivered twice',
  reordered: 'Packets the emulated bearer delivered after a later one',
  bytes_sent: 'Bytes given to the emulated bearer, bytes',
  bytes_delivered: 'Bytes the emulated bearer delivered, bytes',
  delayed_outage: 'Stream chunks the emulated bearer held back during an outage',
};

export const METRICS: Readonly<Record<string, MetricInfo>> = {
  // relay and router
  uptime_seconds: g('Time since the relay started, seconds'),
  stanzas_in_total: c('Stanzas the router took in, by direction (to_link: from a local server, for the partner; from_link: from the partner relay) and stanza kind', 'direction', 'kind'),
  stanzas_out_total: c('Stanzas the router delivered, by direction (to_local: written to a local server) and stanza kind', 'direction', 'kind'),
  bounces_total: c('Stanza errors the relay sent back to senders instead of delivering, by where the error went (to_local, to_link) and error condition', 'direction', 'condition'),
  drops_total: c('Stanzas dropped without a bounce, by reason (invalid_from: the partner sent a stanza from a domain not behind it; policy_*; unroutable_bounce; local_reply_failed; bounce_refused) and link', 'reason', 'link'),
  local_delivery_retries_total: c('Deliveries to a local server tried again after it could not be reached, by the error seen', 'condition'),
  policy_drops_total: c('Payloads removed from stanzas by policy (chat states, XHTML-IM), by link, direction and payload', 'link', 'direction', 'reason'),

  // links to the partner relay
  link_up: g('1 while the partner relay was heard within link_down_after_s, else 0', 'link'),
  link_queued_stanzas: g('Stanzas waiting for the bearer (not yet sent once), stanzas', 'link'),
  link_in_flight: g('Frames sent on the bearer and not yet acknowledged by the partner, frames', 'link'),
  link_rtt_ms: g('Smoothed round-trip time to the partner relay, milliseconds', 'link'),
  link_down_total: c('Times the link was declared down (nothing heard from the partner for link_down_after_s)', 'link'),
  link_connects_total: c('xep0361 links: TCP connections to the partner established', 'link'),
  link_disconnects_total: c('xep0361 links: TCP connections to the partner lost', 'link'),
  link_auth_failures_total: c('xep0361 links: partner connections refused because the TLS certificate did not match the pin', 'link'),
  link_stream_errors_total: c('xep0361 links: stream errors on the link stream, by condition', 'link', 'condition'),
  link_bytes_sent_total: c('Bytes put on the bearer (frames with headers and tags, retransmissions and keepalives included), bytes', 'link'),
  link_bytes_received_total: c('Bytes received from the bearer (before authentication), bytes', 'link'),
  link_header_bytes_total: c('Bytes of frame headers and authentication tags put on the bearer, bytes', 'link'),
  link_frames_sent_total: c('Frames put on the bearer, retransmissions and keepalives included', 'link'),
  link_frames_received_total: c('Frames received from the bearer that authenticated', 'link'),
  link_frames_dropped_total: c('Frames from the bearer thrown away before they change anything, by reason (auth: wrong key or forged; replay; stale_session: a frame of an earlier run of either relay; old_version: a v1 frame once the partner speaks v2; truncated; malformed; too_big)', 'link', 'reason'),
  link_forged_frames_total: c('Frames that failed authentication while the partner\'s frames authenticate: forged or corrupted frames on the bearer, not a key mismatch', 'link'),
  link_key_mismatch: g('1 while frames fail authentication and none from the partner authenticates (the two ends likely hold different keys), else 0', 'link'),
  link_state_errors_total: c('Times a link\'s state could not be stored in data_dir/link-state: the partner\'s session number (frames of that session may count once more after a restart) or a metered bearer\'s spend of the day', 'link'),
  link_connect_failures_total: c('tcp and xep0361 links: failed attempts to connect to the partner relay', 'link'),
  link_retransmits_total: c('Frames sent again because their acknowledgement did not come in time', 'link'),
  link_outages_total: c('Retransmission timeouts the partner answered after (an outage, or on a lossy bearer a lost tail of frames)', 'link'),
  link_probes_total: c('Outage probes sent: a small PING frame every probe_interval_ms while the partner is silent and stanzas wait', 'link'),
  link_probe_bytes_total: c('Bytes of outage probes and of every frame sent while the link held its data in an outage, bytes', 'link'),
  link_silence_pings_total: c('PINGs sent because the partner stopped mid-stream for one RTO (its frames may be going to a NAT mapping that is gone)', 'link'),
  link_backoff_resets_total: c('Times the partner was heard again while retransmissions were backed off, so the timer restarted from the base RTO (an outage ended)', 'link'),
  link_duplicates_total: c('Link messages received twice (a retransmission whose first copy had arrived) and ignored', 'link'),
  link_duplicates_dropped_total: c('Stanzas received again that had already been delivered (after a restart) and were not delivered twice', 'link'),
  link_messages_dropped_total: c('Link messages thrown away after decompression, by reason (too_big: over the stanza size limit)', 'link', 'reason'),
  link_stream_resets_total: c('Compression contexts reset, by reason (peer_restart, peer_request, inflate: a decompression error, version_switch: the partner moved to link protocol v2)', 'link', 'reason'),
  link_resyncs_total: c('Times the partner relay restarted (a new session) and the link resynchronised', 'link'),
  link_stanzas_sent_total: c('Stanzas handed to the link protocol for the partner, by stanza kind', 'link', 'kind'),
  link_stanzas_received_total: c('Stanzas received from the partner relay, by stanza kind', 'link', 'kind'),
  link_dropped_total: c('Stanzas the link dropped as unusable, by reason (bad_stanza, bad_spooled, bad_control, unsupported_element)', 'link', 'reason'),
  link_refused_total: c('Stanzas the link refused to take (bounced resource-constraint), by reason (spool_full, disk_full, queue_full, metered_budget)', 'link', 'reason'),
  link_expired_total: c('Stanzas held longer than limits.held_stanza_timeout_s before the bearer took them, bounced remote-server-timeout', 'link'),

  // metered bearers (link/metered/)
  metered_bytes_total: c('Bytes counted against a metered bearer\'s daily budget, sent and received (frames, with IPv4/UDP headers on udp), bytes', 'link', 'bearer'),
  metered_cost_today: g('Cost of the bytes counted on a metered bearer since 00:00 UTC (cost_per_mb per 10^6 bytes), in the profile\'s currency', 'link', 'bearer'),
  metered_budget_remaining_bytes: g('What is left of a metered bearer\'s daily budget today (0: only urgent stanzas cross), bytes', 'link', 'bearer'),
  metered_held_stanzas: g('Stanzas waiting because the bearer in use is metered and does not carry their class (presence, disco), stanzas', 'link'),
  metered_held_total: c('Stanzas that had to wait for an unmetered bearer, by class', 'link', 'class'),
  metered_refused_total: c('Stanzas refused (bounced resource-constraint, with an audit line) because the metered bearer\'s daily budget was spent', 'link', 'bearer'),
  metered_urgent_total: c('Stanzas urgent by policy.urgent that crossed a metered bearer whose daily budget was spent', 'link', 'bearer'),

  // link drivers (UDP, TCP, serial)
  link_driver_bytes_tx_total: c('Bytes the driver wrote to its socket or device, bytes', 'link'),
  link_driver_bytes_rx_total: c('Bytes the driver read from its socket or device, bytes', 'link'),
  link_driver_frames_tx_total: c('Frames the driver wrote to its socket or device', 'link'),
  link_driver_frames_rx_total: c('Frames the driver read from its socket or device', 'link'),
  link_peer_address_changes_total: c('A udp end without peer (roaming): the partner\'s address learned (kind=learned) or changed (kind=moved: NAT rebinding, another bearer), from frames that passed authentication and replay checks', 'link', 'kind'),
  link_bearer_up: g('A link over several bearers (links[].bearers): 1 while the partner is heard on this bearer within its link_down_after_s, else 0', 'link', 'bearer'),
  link_bearer_current: g('A link over several bearers: 1 for the bearer the link sends on now, else 0', 'link', 'bearer'),
  link_bearer_bytes_sent_total: c('A link over several bearers: bytes of frames put on this bearer (data, acknowledgements, keepalives, probes), bytes', 'link', 'bearer'),
  link_bearer_bytes_received_total: c('A link over several bearers: bytes of authentic frames taken from this bearer, bytes', 'link', 'bearer'),
  link_bearer_probes_total: c('A link over several bearers: bearer probes sent on this bearer while it carried nothing else (they show the partner it works)', 'link', 'bearer'),
  link_bearer_failovers_total: c('A link over several bearers: switches to this (worse) bearer because the one in use was declared down', 'link', 'bearer'),
  link_bearer_failbacks_total: c('A link over several bearers: switches back to this (better) bearer after it was up for failback_hold_s', 'link', 'bearer'),
  link_peer_address_refused_total: c('A udp end without peer (roaming): datagrams from an address other than the partner\'s that failed authentication, replay or session checks; they never move it', 'link'),
  link_driver_dropped_total: c('Frames the driver dropped before the link protocol saw them, by reason (foreign_peer: UDP from an address other than peer; frame_too_large; tx_too_large)', 'link', 'reason'),
  link_driver_errors_total: c('Socket or device errors, by operation', 'link', 'op'),
  link_driver_dials_total: c('tcp transport: connection attempts to the partner', 'link'),
  link_driver_connects_total: c('tcp transport: connections established, by how (dialled or accepted)', 'link', 'how'),
  link_driver_disconnects_total: c('tcp transport: connections lost', 'link'),
  link_driver_connections_replaced_total: c('tcp transport: a new connection from the partner replaced the old one', 'link'),
  serial_frames_dropped_total: c('serial transport: frames dropped by the byte-stuffing decoder, by reason (crc, cobs, runt, oversize)', 'link', 'reason'),

  // durable spool
  spool_outbound_stanzas: g('Stanzas on disk not yet acknowledged by the partner relay, stanzas', 'link'),
  spool_outbound_bytes: g('Bytes of stanzas on disk not yet acknowledged by the partner relay, bytes', 'link'),
  spool_depth_stanzas: g("Stanzas in the link's spool, stanzas", 'link'),
  spool_oldest_age_seconds: g('Age of the oldest stanza in the link\'s spool, seconds', 'link'),
  spool_accepted_total: c('Stanzas written to the spool before the relay took them from a local server', 'link'),
  spool_acked_total: c('Spooled stanzas removed because the partner relay stored them', 'link'),
  spool_ack_unknown_total: c('Acknowledgements for stanzas the spool no longer held (already acknowledged)', 'link'),
  spool_received_total: c('Stanzas from the partner written to the spool before they were acknowledged', 'link'),
  spool_inbound_duplicate_total: c('Stanzas from the partner that the spool had already received (not stored twice)', 'link'),
  spool_handed_over_total: c('Received stanzas handed over to the local side and removed from the spool', 'link'),
  spool_expired_total: c('Spooled stanzas older than limits.held_stanza_timeout_s, bounced remote-server-timeout', 'link'),
  spool_full_total: c('Stanzas refused because the spool held spool_max_stanzas or spool_max_bytes (bounced resource-constraint)', 'link'),
  spool_disk_full_refusals_total: c('Spool writes refused because less than 1 MiB was free on its disk, by operation', 'link', 'op'),
  spool_damaged_records_total: c('Spool records that failed their checksum when read, by store (out, in, group); their bytes are never delivered', 'link', 'store'),
  spool_quarantined_total: c('Spools moved aside at start as damaged (data_dir/spool/<link>.corrupt-<time>); the link continues on a fresh spool', 'link'),
  link_damaged_stanzas_total: c('Stanzas lost to spool damage, by outcome (bounced: an error went to the sender; not_bounced: the sender was unreadable too)', 'link', 'outcome'),
  spool_errors_total: c('Spool read or write errors, by operation', 'link', 'op'),
  spool_commits_total: c('Spool commits to disk (each one fsync); all writes queued in one event-loop turn, or while the previous commit ran, share one', 'link'),

  // S2S with the local servers
  s2s_sessions: g('Open S2S streams with local servers, by direction (in: the server connected; out: the relay connected) and state', 'direction', 'state'),
  s2s_sessions_opened_total: c('S2S streams opened with local servers, by direction', 'direction'),
  s2s_sessions_closed_total: c('S2S streams closed, by direction', 'direction'),
  s2s_stream_errors_total: c('S2S streams the relay closed with a stream error (not a normal stop), by condition and direction', 'condition', 'direction'),
  s2s_peer_stream_errors_total: c('Stream errors a local server sent the relay, by condition (system-shutdown: the server is stopping)', 'condition'),
  s2s_pending_sessions: g('Inbound S2S connections not yet authenticated, connections'),
  s2s_connections_refused_total: c('Inbound S2S connections refused over the unauthenticated-connection limits, by reason (total: s2s.max_pending; per_address: s2s.max_pending_per_address)', 'reason'),
  s2s_connect_failures_total: c('Connections to a local server that failed, by reason (resolve, connect, timeout)', 'reason'),
  s2s_socket_errors_total: c('Socket errors on S2S streams, by direction', 'direction'),
  s2s_tls_failures_total: c('TLS handshakes with local servers that failed, by direction', 'direction'),
  s2s_auth_total: c('Authentications with local servers, by method (dialback, sasl-external), result and direction', 'method', 'result', 'direction'),
  s2s_dialback_total: c('Dialback (XEP-0220) exchanges, by role and result', 'role', 'result'),
  s2s_bidi_total: c('S2S streams used in both directions (XEP-0288), by direction', 'direction'),
  s2s_sm_enabled_total: c('S2S streams with stream management (XEP-0198) enabled, by direction', 'direction'),
  s2s_sm_acked_total: c('Stanzas a local server acknowledged (XEP-0198)'),
  s2s_sm_unacked_total: c('Stanzas a local server had not acknowledged when its stream closed (XEP-0198)'),
  s2s_stanzas_in_total: c('Stanzas read from local servers, by kind', 'kind'),
  s2s_stanzas_out_total: c('Stanzas written to local servers, by kind', 'kind'),
  s2s_undeliverable_total: c('Stanzas that could not be written to a local server, by the stanza error returned', 'condition'),
  s2s_dropped_total: c('Stanzas dropped on the S2S side, by reason (refused, queue-full) and condition', 'reason', 'condition'),
  xml_stream_errors_total: c('XML streams closed for bad XML or a limit, by stream error condition', 'condition'),
  dns_resolutions_total: c('Local servers found, by how (route: local.routes; srv; a)', 'via'),
  dns_failures_total: c('DNS lookups for a local server that failed, by error code', 'code'),
  s2s_trust_refusals_total: c('S2S sessions refused by the domain\'s trust rule, by reason (tls_required, tls_version, dane_mismatch, dane_required, untrusted_cert, dialback_untrusted) and direction', 'reason', 'direction'),
  s2s_dane_total: c('DANE checks of outbound S2S sessions, by result (match, mismatch, insecure, unavailable, insecure_ignored, lookup_failed)', 'result'),
  dns_secure_queries_total: c('Queries to the DNSSEC-validating resolver, by record type and whether a trusted AD bit came back', 'type', 'ad'),
  tls_certs_generated_total: c('Self-signed certificates made for remote domains'),
  tls_cert_errors_total: c('Certificate files that could not be read or parsed, by code', 'code'),
  tls_sni_errors_total: c('TLS handshakes whose SNI certificate lookup failed'),
  tls_sni_unknown_total: c('TLS handshakes asking (SNI) for a name the relay does not serve'),

  // metrics and status listener
  http_requests_total: c('Requests to the metrics and status listener, by path (/, /metrics, /status, other) and HTTP status', 'path', 'status'),
  http_connections_total: c('Connections accepted by the metrics and status listener'),
  http_connections_open: g('Connections open to the metrics and status listener, connections'),
  http_connections_refused_total: c('Connections to the metrics and status listener closed at once over its limits, by reason (total: metrics.max_connections; per_address: metrics.max_connections_per_address)', 'reason'),
  http_connections_timed_out_total: c('Connections to the metrics and status listener closed after metrics.idle_timeout_s or request_timeout_s'),

  // traffic optimizers
  optimize_cache_entries: g('Entries in the disco#info / entity-caps cache, by kind', 'kind'),
  optimize_cache_hits_total: c('disco#info queries answered on the near side from the cache (never crossed the bearer), by kind', 'kind'),
  optimize_cache_misses_total: c('disco#info queries the cache could not answer (sent across), by kind', 'kind'),
  optimize_cache_bypass_total: c('disco#info queries to a client passed across instead of answered from the cache, by reason (client_unavailable: its last presence seen crossing was not available)', 'reason'),
  optimize_cache_stores_total: c('disco#info answers stored in the cache, by kind', 'kind'),
  optimize_cache_evictions_total: c('Cache entries removed, by reason', 'reason'),
  optimize_caps_verify_total: c('Entity-caps hashes checked against the disco#info answer (XEP-0115 §5.4), by result', 'result'),
  optimize_caps_strip_total: c('Presences whose caps element was stripped before the bearer (the partner knows it), by result', 'link', 'result'),
  optimize_caps_restore_total: c('Stripped caps elements put back on arrival, by result', 'link', 'result'),
  optimize_caps_acks_total: c('Caps the partner confirmed it holds, by result', 'link', 'result'),
  optimize_caps_acks_received_total: c('Caps confirmations received from the partner', 'link'),
  optimize_coalesced_total: c('Queued presences replaced by a newer one from the same sender to the same recipient (only the last state crosses)', 'link'),
  optimize_presence_folded_total: c('Presences shortened by presence folding', 'link'),
  optimize_presence_fold_bytes_saved_total: c('Bytes removed from presences by folding, bytes', 'link'),
  optimize_folds_total: c('Fan-out folds: copies of one stanza to several recipients sent across once, by kind', 'kind', 'link'),
  optimize_fold_saved_stanzas_total: c('Stanza copies that did not cross thanks to fan-out folding, by kind', 'kind', 'link'),
  optimize_expands_total: c('Folded stanzas from the partner expanded back into copies, by kind', 'kind', 'link'),
  optimize_expanded_stanzas_total: c('Stanza copies made from folded stanzas, by kind', 'kind', 'link'),
  optimize_expand_refused_total: c('Folded stanzas from the partner refused, by kind and condition', 'kind', 'link', 'condition'),
  optimize_queue_expired_total: c('Queued stanzas bounced by the optimizer queue after limits.held_stanza_timeout_s', 'link'),
  optimize_store_writes_total: c('Writes of the optimizer state files (disco-cache.json, caps-strip.json)', 'op'),
  optimize_store_errors_total: c('Optimizer state files that could not be read or written, by operation', 'op'),

  // boundary guard: security labels (XEP-0258)
  label_refusals_total: c('Stanzas not carried because a security label is outside the destination side\'s clearance or unreadable, by link, direction and rule', 'link', 'direction', 'rule'),
  label_mappings_total: c('Security labels rewritten into the other side\'s policy by the link\'s equivalence table, by link and direction', 'link', 'direction'),
  label_defaults_total: c('Unlabeled messages given the clearance\'s default security label, by link and direction', 'link', 'direction'),
  labels_passed_total: c('Labelled stanzas whose every label was within the destination side\'s clearance, by link and direction', 'link', 'direction'),
  label_catalog_answers_total: c('XEP-0258 label catalog requests answered on the near side from the link\'s clearance', 'link'),

  // bundled link emulator (satrelay emulate, demo, bench)
  emulator_no_forward_total: c('Emulator (udp): datagrams for a side that has not sent yet, so it has no address, dropped', 'dir'),
  emulator_send_errors_total: c('Emulator: socket send errors', 'dir'),
  emulator_socket_errors_total: c('Emulator: socket errors, by side', 'side'),
  emulator_delivery_errors_total: c('Emulator: deliveries that failed', 'dir'),
  emulator_tcp_connections_total: c('Emulator (tcp): connections carried'),
  emulator_tcp_errors_total: c('Emulator (tcp): connection errors', 'dir'),
  emulator_pty_overrun_bytes_total: c('Emulator (pty): bytes dropped because the reading side lagged, bytes', 'dir'),
  emulator_socat_exits_total: c('Emulator (pty): socat exits, by side', 'side'),
  ...Object.fromEntries(Object.entries(EMULATOR_DIR_STATS).map(([k, help]) => [`emulator_${k}_total`, c(`Emulator: ${help[0].toLowerCase()}${help.slice(1)}`, 'dir')])),
};

/** The catalog entry for a metric name (without the satrelay_ prefix), if any. */
export function metricInfo(name: string): MetricInfo | undefined {
  return Object.hasOwn(METRICS, name) ? METRICS[name] : undefined;
}

/** The metric reference table of docs/operator-guide.md (Markdown); `npm run docs:metrics` (tools/metrics-doc.ts) writes it there. */
export function metricsTable(): string {
  const rows = Object.entries(METRICS)
    .filter(([name]) => !name.startsWith('emulator_'))
    .map(([name, m]) => `| \`satrelay_${name}\` | ${m.type} | ${m.labels.length ? m.labels.join(', ') : '—'} | ${m.help.replace(/\|/g, '\\|')} |`);
  return ['| metric | type | labels (and site) | what it counts, unit |', '|---|---|---|---|', ...rows].join('\n') + '\n';
}

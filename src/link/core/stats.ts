/**
 * What the core counts, as a snapshot for the host (quinn's ConnectionStats):
 * counters only grow; the host turns the difference between two snapshots
 * into its metrics (link/constrained/core-metrics.ts), so the core needs no
 * metrics library. Each part of the endpoint adds to the counters of its job.
 */
import type { DropReason } from './errors.ts';

/** Why a compression context was reset (peer_restart: a new partner session; peer_request: a RESET block; inflate: ours failed; version_switch: the wire version changed). */
export type StreamResetReason = 'peer_restart' | 'peer_request' | 'inflate' | 'version_switch';

export interface LinkCounters {
  /** Frames and bytes put on the bearer (keepalives, probes and retransmissions included); headers and tags of data frames. */
  framesSent: number; bytesSent: number; headerBytes: number;
  /** Frames and bytes taken (authenticated and valid). */
  framesReceived: number; bytesReceived: number;
  /** Frames carrying retransmitted bytes; segments retransmitted. */
  retransmits: number; segmentsRetransmitted: number;
  /** Frames thrown away before they changed anything, in all and by reason (the host's auth watch reads these). */
  framesDropped: number; framesDroppedBy: Partial<Record<DropReason, number>>;
  /** Messages delivered (events), acknowledged by the partner (events), received again and ignored, refused after inflate (too_big). */
  delivered: number; acked: number; duplicates: number; messagesDropped: { too_big: number };
  /** Compression contexts reset, by reason; `resync` events; `down` events; RTO back-offs ended by hearing the partner. */
  streamResets: Record<StreamResetReason, number>; resyncs: number; downs: number; backoffResets: number;
  /** Outages ended (outage.ts), probes sent, bytes of probes and of every frame sent in an outage. */
  outages: number; outageProbes: number; outageBytes: number;
  /** PINGs sent because the partner's stream fell silent (silence.ts). */
  silencePings: number;
  /** Stanza bytes inflated; compressed and stanza bytes put into the stream (their ratio: the compression achieved). */
  stanzaBytesIn: number; compressedBytesOut: number; stanzaBytesOut: number;
}

export interface LinkStats extends LinkCounters {
  rttMs: number | undefined; rtoMs: number; inFlight: number; window: number;
  /** Messages not yet fully acknowledged frame-wise (waiting + in the stream); not yet MSGACKed; submitted but not yet started on the bearer. */
  queued: number; unacked: number; waiting: number;
  epoch: number; peerEpoch: number | undefined; txGeneration: number;
  /** Highest partner session accepted (v2); the last one seen below it, if any; the version this end sends. */
  peerSession: number; staleSession: number | undefined; wireVersion: 1 | 2;
}

export function newCounters(): LinkCounters {
  return {
    framesSent: 0, bytesSent: 0, headerBytes: 0, framesReceived: 0, bytesReceived: 0, retransmits: 0, segmentsRetransmitted: 0,
    framesDropped: 0, framesDroppedBy: {},
    delivered: 0, acked: 0, duplicates: 0, messagesDropped: { too_big: 0 },
    streamResets: { peer_restart: 0, peer_request: 0, inflate: 0, version_switch: 0 }, resyncs: 0, downs: 0, backoffResets: 0,
    outages: 0, outageProbes: 0, outageBytes: 0, silencePings: 0, stanzaBytesIn: 0, compressedBytesOut: 0, stanzaBytesOut: 0,
  };
}

/** A copy that later counting does not change. */
export function copyCounters(c: LinkCounters): LinkCounters {
  return { ...c, framesDroppedBy: { ...c.framesDroppedBy }, messagesDropped: { ...c.messagesDropped }, streamResets: { ...c.streamResets } };
}

/** A frame thrown away before it changed anything. */
export function countDrop(c: LinkCounters, reason: DropReason): void {
  c.framesDropped++;
  c.framesDroppedBy[reason] = (c.framesDroppedBy[reason] ?? 0) + 1;
}

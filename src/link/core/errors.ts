/** Typed errors of the link core (stable `code`, tests check the code). */
export type LinkErrorCode =
  | 'LINK_BAD_OPTIONS'   // key length, tuning out of range
  | 'LINK_BAD_ID'        // submit() id not strictly increasing / out of u64 range
  | 'LINK_STANZA_TOO_BIG'; // submit() stanza over maxStanzaBytes

export class LinkError extends Error {
  constructor(readonly code: LinkErrorCode, message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

/**
 * Reasons a received frame is dropped (label of link_frames_dropped_total).
 * stale_session: from an earlier session of the partner, or addressed to an
 * earlier session of this end; old_version: link protocol v1 from a partner
 * already heard speaking v2 (docs/link-protocol.md §7).
 */
export type DropReason = 'auth' | 'replay' | 'stale_session' | 'old_version' | 'truncated' | 'malformed' | 'too_big';

/** Internal: thrown by the decoders, caught in handleFrame and counted. */
export class WireError extends Error {
  constructor(readonly reason: DropReason, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

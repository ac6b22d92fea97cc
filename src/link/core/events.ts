/** What an endpoint tells its host (pollEvent). */
export type LinkEvent =
  | { type: 'deliver'; id: bigint; stanza: Buffer; meta?: Uint8Array }
  | { type: 'acked'; id: bigint }
  | { type: 'up' } | { type: 'down' } | { type: 'resync' }
  /** Receiver: the partner will send nothing below `id` any more (expired, refused or acked ids). */
  | { type: 'floor'; id: bigint }
  /** Store at once (before the next frame): the partner's session accepted, and whether it speaks v2. */
  | { type: 'session'; peer: number; peerV2: boolean }
  /** The partner speaks link protocol `version` (1: an older satrelay; this end talks v1 to it). */
  | { type: 'partner_version'; version: 1 | 2 };

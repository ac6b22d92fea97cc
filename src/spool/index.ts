/**
 * spool/ — the durable store (lmdb) behind exactly-once delivery over the link.
 *
 * Takes: a directory, limits (maxBytes, maxStanzas), optional Metrics and Logger.
 * Gives: `Spool` — outbound stanzas per link (accept -> id, ack, pending,
 *   expire, nextId) and inbound stanzas per link (receive with deliveredUpTo
 *   advanced in the same transaction, inboundPending, handedOver).
 *   A resolved write promise means the commit is on disk (fsync).
 * Must not import: link/, s2s/, optimize/ (it stores opaque bytes).
 */
export { Spool } from './spool.ts';
export type { OutboundMeta, InboundMeta, SpoolEntry, SpoolOptions, SpoolStats, Priority } from './spool.ts';
export { SpoolError, SpoolFullError, SpoolDiskFullError, SpoolClosedError } from './errors.ts';
export type { SpoolErrorCode } from './errors.ts';

/**
 * spool/ — the durable store (lmdb) behind exactly-once delivery over the link.
 *
 * Takes: a directory, limits (maxBytes, maxStanzas), optional Metrics and Logger.
 * Gives: `Spool` — outbound stanzas per link (accept -> id, ack, pending,
 *   expire, nextId) and inbound stanzas per link (receive with deliveredUpTo
 *   advanced in the same transaction, inboundPending, handedOver).
 *   A resolved write promise means the commit is on disk (fsync). Writes are
 *   group-committed (commit.ts): one commit per event-loop turn, counted in
 *   spool_commits_total.
 *   Every record is binary (record-layout.ts; older msgpack ones still read)
 *   and carries checksums (records.ts): damaged ones are never handed
 *   out as data, recover() names them for a bounce. A spool lmdb cannot read
 *   safely is moved aside at open (check.ts); inspectSpool() reports offline.
 *   writeFileDurably(): small state files beside the spool, all or nothing.
 * Must not import: link/, s2s/, optimize/ (it stores opaque bytes), nor
 * relay/, config/ or anything above; only obs/ (and the rows below it).
 */
export { Spool } from './spool.ts';
export { writeFileDurably } from './durable-file.ts';
export type { OutboundMeta, InboundMeta, SpoolEntry, SpoolOptions, SpoolStats, Priority, StanzaHead, PartInfo, DamagedStanza, Recovery } from './spool.ts';
export { SpoolError, SpoolFullError, SpoolDiskFullError, SpoolClosedError } from './errors.ts';
export type { SpoolErrorCode } from './errors.ts';
export { inspectSpool, isDamaged, type SpoolReport, type LinkReport, type DamagedRecord } from './inspect.ts';

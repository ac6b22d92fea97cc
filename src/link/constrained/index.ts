/**
 * link/constrained — the link over udp, serial or tcp, as sans-IO parts and
 * a thin host (link.ts) that wires them to one clock, the spool and a driver:
 *  - outbox.ts: accepted stanzas -> spool -> scheduler -> link messages
 *    recorded durably -> core; bounces what is held too long;
 *  - packer.ts (pure): queued stanzas -> link messages within a byte limit;
 *  - inbox.ts: delivered messages -> inbound spool -> confirmed to the core ->
 *    handed to the relay in order; progress records;
 *  - auth-watch.ts, session-store.ts, damage.ts, message.ts, role.ts.
 * Takes: a Spool, an OutboundScheduler (the relay passes optimize's
 *   OutboundQueue), a DriverFactory (link/drivers: the relay builds it from
 *   the transport settings), LinkTuning and key, a Clock (time/; tests pass a
 *   ManualClock), LinkHandlers at start.
 * Gives: ConstrainedLink (a RelayLink, port.ts), linkRole, parseStanza(s).
 * Must not import: relay/, optimize/, s2s/, policy/, cli/.
 */
export { ConstrainedLink, type ConstrainedLinkOptions } from './link.ts';
export { linkRole } from './role.ts';
export { priorityOf, parseStanza, parseStanzas } from './message.ts';
export { pack, messageBytesLimit, coreTarget, MAX_STANZAS_PER_MESSAGE, type LinkMessage } from './packer.ts';

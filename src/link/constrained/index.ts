/**
 * link/constrained — the link over udp, serial or tcp: stanzas are spooled
 * (spool/), queued with priority, coalescing and fan-out folding (optimize/),
 * recorded as durable link messages and carried by the sans-IO core (core/)
 * through a transport driver (drivers/). Must not import s2s/.
 */
export { ConstrainedLink, linkRole, priorityOf, parseStanza, parseStanzas, type ConstrainedLinkOptions, type ConstrainedTransport } from './link.ts';

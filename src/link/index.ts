/**
 * link/ — the links between two relays, as the router sees them (RelayLink):
 *  - xep0361/: plain XEP-0361 over TCP (optionally TLS with a pinned certificate);
 *  - constrained/: the satrelay link protocol over udp, serial or tcp: the
 *    sans-IO core (core/), the durable spool and a transport driver (drivers/).
 * Wire specification: docs/link-protocol.md. Must not import s2s/ or cli/.
 */
export { Xep0361Link, type Xep0361Options } from './xep0361/index.ts';
export { ConstrainedLink, type ConstrainedLinkOptions, type ConstrainedTransport } from './constrained/index.ts';

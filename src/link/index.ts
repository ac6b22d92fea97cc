/**
 * link/ — the links between two relays, and the interface they offer
 * (port.ts: RelayLink, LinkHandlers, LinkStatus; OutboundScheduler, what the
 * constrained link asks of the relay):
 *  - xep0361/: plain XEP-0361 over TCP (optionally TLS with a pinned certificate);
 *  - constrained/: the satrelay link protocol over udp, serial or tcp: the
 *    sans-IO core (core/), the durable spool and a transport driver (drivers/),
 *    or one driver per bearer under one core (bearers/: links[].bearers);
 *  - metered/: a bearer billed per MB: what may cross now, the daily budget.
 * Takes: settings, a Spool, an OutboundScheduler, a DriverFactory and a Clock
 *   (time/) from the relay. Gives: RelayLink implementations; the relay
 *   orders, retries and bounces local delivery (relay/local-delivery.ts).
 * Wire specification: docs/link-protocol.md.
 * Must not import: relay/, optimize/, policy/, s2s/, cli/.
 */
export type { RelayLink, LinkHandlers, LinkStatus, OutboundScheduler, ScheduledStanza, TakenStanzas } from './port.ts';
export { Xep0361Link, type Xep0361Options } from './xep0361/index.ts';
export { ConstrainedLink, type ConstrainedLinkOptions } from './constrained/index.ts';
export { transportDriver, type ConstrainedTransport, type DriverFactory } from './drivers/index.ts';
export { multiBearerDriver, type BearerDef, type BearerStatus, type BearerAccounting } from './bearers/index.ts';

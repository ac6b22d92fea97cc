/**
 * relay/ — one relay process: the router between the S2S side (local XMPP
 * servers) and the links to partner relays, and its assembly from a site file.
 * Local delivery (local-delivery.ts) owns order per destination, retry and
 * the hold time of stanzas to the local servers, on the relay's clock (time/).
 * It fills each constrained link's OutboundScheduler with optimize's queue.
 * Takes: a validated SiteConfig. Gives: a Relay (start, stop, status, metrics).
 * The router bounces whatever it cannot carry (RFC 6120 §8.3); hooks (policy,
 * optimizers) attach in order. May import s2s/, link/, optimize/, policy/
 * and the rows below. Must not import: cli/, sim/, emulator/, bench/, test/.
 */
export { Relay, type RelaySettings, type RelayStatus } from './relay.ts';
export { Router, RelayStoppingError, type StanzaHook, type HookContext, type LocalSide } from './router.ts';
export { LocalDelivery, type LocalDeliveryOptions } from './local-delivery.ts';
export { buildRelay, buildLink, relaySettings, linkTuning } from './from-config.ts';

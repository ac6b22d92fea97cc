/**
 * relay/ — one relay process: the router between the S2S side (local XMPP
 * servers) and the links to partner relays, and its assembly from a site file.
 * Takes: a validated SiteConfig. Gives: a Relay (start, stop, status, metrics).
 * The router bounces whatever it cannot carry (RFC 6120 §8.3); hooks (policy,
 * optimizers) attach in order. Must not import: cli/, bench/.
 */
export { Relay, type RelaySettings, type RelayStatus } from './relay.ts';
export { Router, RelayStoppingError, type StanzaHook, type HookContext, type LocalSide } from './router.ts';
export { buildRelay, buildLink, relaySettings, linkTuning } from './from-config.ts';

/** S2SService options and the context the service gives its sessions. */
import type { XmlElement } from '../xml/element.ts';
import type { StanzaError } from '../xmpp/errors.ts';
import type { Logger } from '../obs/log.ts';
import type { Metrics } from '../obs/metrics.ts';
import type { CertStore } from './tls/index.ts';
import type { TrustPolicy } from './trust/policy.ts';
import type { StreamEnv } from './stream.ts';
import type { AdmissionLimits } from './admission.ts';
import type { S2SRuntime } from './runtime.ts';
import { s2sTimeoutsMs } from '../config/defaults.ts';

export interface S2SOptions {
  /** 'host:port' for inbound streams from local servers; port 0 allowed (tests). */
  listen: string[];
  /** XEP-0368 direct TLS listener(s). */
  directTlsListen?: string[];
  /** Patterns ('a.example', '*.a.example') of the local servers' domains: only these may connect in and be delivered to. */
  localDomains: readonly string[];
  /** The remote domains the relay impersonates (accepts streams 'to' them, sends 'from' them). */
  servedDomains: (domain: string) => boolean;
  /** Static domain -> 'host:port' (passed to resolveS2S). */
  routes?: Record<string, string>;
  dnsServers?: string[];
  /** require: refuse to proceed without TLS in both directions (policy-violation). rejectUntrusted: outbound TLS must verify the peer chain. enabled=false: never offer/use STARTTLS (default true). */
  tls: { certs: CertStore; require: boolean; rejectUntrusted?: boolean; enabled?: boolean };
  /** Per peer domain: TLS, certificate trust (PKIX, DANE), dialback, pinned records (default: TLS as tls.require, nothing else required). */
  trust?: TrustPolicy;
  /** Dialback secret (XEP-0185). */
  secret: Buffer;
  maxStanzaBytes: number;
  timeouts?: { connectMs?: number; authMs?: number; idleMs?: number; queueMs?: number };
  /** XEP-0288: offer bidi on inbound streams and request it on outbound ones where the local server offers it (default false: opt in). */
  bidi?: boolean;
  /** Unauthenticated inbound connections allowed at once, in total and per source address (admission.ts). */
  admission?: AdmissionLimits;
  /** Stanzas queued per outbound session before authentication (default 1000); more -> resource-constraint. */
  queueLimit?: number;
  logger?: Logger;
  metrics?: Metrics;
  /** Clock, timers and randomness of the sessions (default systemRuntime; tests: simulated time). */
  runtime?: S2SRuntime;
  /** An authenticated inbound stanza from a local server, already checked; resolving means "taken". */
  onStanza(stanza: XmlElement, ctx: { from: string; to: string }): Promise<void> | void;
  /** An outbound stanza could not be delivered: the relay core bounces it over the link. */
  onUndeliverable(stanza: XmlElement, err: StanzaError): void;
}

export interface Timeouts {
  connectMs: number;
  authMs: number;
  idleMs: number;
  queueMs: number;
}

/** The site file's defaults (config/defaults.ts): s2s.*_timeout_s and limits.held_stanza_timeout_s. */
export const DEFAULT_TIMEOUTS: Timeouts = s2sTimeoutsMs();

/** What sessions need from the service. */
export interface S2SContext extends StreamEnv {
  opts: S2SOptions;
  trust: TrustPolicy;
  timeouts: Timeouts;
  queueLimit: number;
  isLocal(domain: string): boolean;
  isServed(domain: string): boolean;
  /** Receiving role (XEP-0220 §2.1.2): ask the originating domain's authoritative server. */
  verifyKey(receiving: string, originating: string, streamId: string, key: string): Promise<boolean>;
  /** Authoritative role (XEP-0220 §2.1.3): true when we issued this key. */
  checkOwnKey(receiving: string, originating: string, streamId: string, key: string): boolean;
  /** Sends a stanza from a served domain to a local one (bounces of refused inbound stanzas). */
  deliver(stanza: XmlElement): void;
  /** XEP-0288: a live bidi inbound stream from `local` already covers (or is authenticating) the pair served `from` -> `local`. */
  reverseBidi(from: string, local: string): boolean;
  /** The local server has the stanza: written to an authenticated stream, or acked under XEP-0198. */
  taken(stanza: XmlElement): void;
}

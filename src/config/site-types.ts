/** What a loaded site file gives: SiteConfig, every default filled and every path absolute. */
import type { ClearanceConfig, EquivalenceConfig } from './clearance.ts';
import type { MetricsLimitsConfig, S2SLimitsConfig } from './limits.ts';
import type { MeteredConfig, UrgentConfig } from './metered.ts';
import type { ProfileConfig, TuningProfile } from './profile.ts';
import type { DROP_CLASSES, LOG_LEVELS, PRESENCE_MODES, Transport } from './site-schema.ts';
import type { TrustConfig } from './trust.ts';
import type { BearerConfig } from './bearers.ts';

export interface LinkConfig {
  name: string;
  /** remote domain patterns, lower-cased: "b.example", "*.b.example", "*" */
  domains: string[];
  /** a shipped profile's name, or the absolute path of a profile file */
  profile: string;
  transport: Transport;
  /** null when not given / not used by the transport */
  bind: string | null;
  peer: string | null;
  /** serial only (absolute path) */
  device: string | null;
  /** serial only (default SITE_DEFAULTS.link.baud) */
  baud: number | null;
  /** absolute path; null only for xep0361 without a key */
  key_file: string | null;
  /** spooled transports: this end's role on the link (`a` or `b`, the opposite of the partner's); null: derived from the domains */
  role: 'a' | 'b' | null;
  /** xep0361 only: satrelay resend-and-dedup acks (off for other XEP-0361 implementations) */
  acks: boolean | null;
  /** xep0361 only: TLS on the link, with the partner's certificate pinned */
  tls: { cert: string; key: string; peer_fingerprint: string | null } | null;
  reconnect: { min_s: number; max_s: number };
  /** spooled transports (udp, serial, tcp): this link's own spool caps (site `limits:` by default); null for xep0361 */
  limits: { spool_max_bytes: number; spool_max_stanzas: number } | null;
  /** effective tuning: the profile's, with this link's `tuning:` keys on top, the rest computed */
  tuning: TuningProfile;
  /** the bearer is billed per MB: the link's `metered:`, else its profile's; null: not metered */
  metered: MeteredConfig | null;
  /** XEP-0258 labels that may cross to this link (null: not checked), and label rewrites to the partner's policies */
  clearance: ClearanceConfig | null;
  equivalence: EquivalenceConfig;
  /** derived: the profile as loaded (not a site-file key) */
  profileConfig: ProfileConfig;
  /**
   * Several bearers, in order of preference (null: the single-bearer keys
   * above, one bearer; config/bearers.ts linkBearers gives the list either
   * way). With a list, profile, transport, bind, peer, device, baud, tuning
   * and profileConfig above are the primary's.
   */
  bearers: BearerConfig[] | null;
  /** with bearers: how long a better bearer must be up before the link fails back to it, s */
  failback_hold_s: number | null;
  /** derived: id of the key in key_file, when it was read (not a site-file key) */
  keyId: string | null;
}

export interface SiteConfig {
  site: string;
  /** absolute */
  data_dir: string;
  local: {
    domains: string[];
    listen: string[];
    direct_tls_listen: string[];
    routes: Record<string, string>;
    tls: { cert: string | null; key: string | null; require: boolean };
    clearance: ClearanceConfig | null; // XEP-0258 labels deliverable here
    delivery_window: number; // stanzas written to one local domain before its XEP-0198 ack
  };
  links: LinkConfig[];
  optimize: { presence: (typeof PRESENCE_MODES)[number]; disco_cache: boolean; fanout: boolean; drop: Array<(typeof DROP_CLASSES)[number]> };
  policy: { allow: string[]; block: string[]; block_namespaces: string[]; urgent: UrgentConfig };
  metrics: { listen: string | null } & MetricsLimitsConfig;
  log: { level: (typeof LOG_LEVELS)[number] };
  limits: { max_stanza_bytes: number; held_stanza_timeout_s: number; spool_max_bytes: number; spool_max_stanzas: number };
  s2s: {
    connect_timeout_s: number;
    auth_timeout_s: number;
    idle_timeout_s: number;
    dialback: boolean;
    sasl_external: boolean;
    dns_servers: string[];
  } & S2SLimitsConfig;
  trust: TrustConfig; // per S2S peer domain (trust.ts)
  /** derived: absolute path of the site file it came from (not a site-file key) */
  sourceFile: string;
}

export interface LoadOptions {
  /** read and check every key_file (default true); off, keyId stays null */
  checkKeyFiles?: boolean;
  /** key file warnings (e.g. permissions) go here */
  onWarning?: (msg: string) => void;
}

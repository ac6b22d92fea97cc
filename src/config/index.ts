/**
 * config/: the site file (one YAML file per relay) and link profiles
 * (profiles/*.yaml), validated with positions: every error names the file,
 * line, column, key path and what was expected (ConfigError.issues). Defaults
 * cascade (site keys, then profile tuning, then link `tuning:` overrides, then
 * values computed from the bearer); the result is fully filled, paths absolute.
 * Also: `host:port` parsing (hostport.ts, a leaf any layer may import) and
 * pre-shared link key files. defaults.ts is the one source of every site
 * default: the schema fills them in, and modules used without a site file
 * (S2S service, xep0361 link, the relay's local hold time) fall back to it.
 *
 * Files: site.ts (load), site-schema.ts, site-checks.ts, site-files.ts,
 * site-types.ts, defaults.ts, hostport.ts, profile.ts, trust.ts, clearance.ts,
 * limits.ts, link-rules.ts, keyfile.ts, render.ts, source.ts, errors.ts.
 *
 * Takes: file paths or text. Gives: SiteConfig / ProfileConfig, effective-config YAML.
 * Must not import: s2s/, link/, relay/, optimize/, policy/, emulator/ (it is a leaf;
 * they import it).
 */
export { ConfigError, formatIssue, type ConfigIssue } from './errors.ts';
export { linkBearers, bearerName, bearerProbeS, bearerDownAfterS, bearerProbeBytesPerHour, type BearerConfig } from './bearers.ts';
export { parseHostPort, readHostPort, formatHostPort, HostPortError, type HostPort } from './hostport.ts';
export { SITE_DEFAULTS, S2S_PORT, DNS_PORT, s2sTimeoutsMs, s2sAdmission, reconnectMs, heldTimeoutMs } from './defaults.ts';
export {
  loadSiteConfig,
  parseSiteConfig,
  TRANSPORTS,
  DROP_CLASSES,
  LOG_LEVELS,
  type SiteConfig,
  type LinkConfig,
  type Transport,
  type LoadOptions,
} from './site.ts';
export {
  loadProfile,
  listProfiles,
  resolveTuning,
  bearerRttMs,
  probeBytesPerHour,
  natKeepaliveBytesPerHour,
  UDP_IP_BYTES,
  resumeBoundMs,
  PROFILES_DIR,
  type BearerProfile,
  type TuningProfile,
  type TuningOverrides,
  type ProfileConfig,
  type LossModel,
  type Outage,
} from './profile.ts';
export { renderEffectiveConfig } from './render.ts';
export type { ClearanceConfig, EquivalenceConfig, LabelSpecConfig } from './clearance.ts';
export { TLS_VERSIONS, DANE_MODES, type TrustConfig, type TrustRuleConfig } from './trust.ts';
export { generateKeyText, readKeyFile, parseKeyText, keyId, KeyFileError, KEY_PREFIX, KEY_BYTES, type KeyFileErrorCode } from './keyfile.ts';
export { STANZA_CLASSES, BYTES_PER_MB, type StanzaClass, type MeteredConfig, type UrgentConfig } from './metered.ts';

/**
 * The effective config as YAML: every key with its value (defaults filled,
 * paths absolute) and a short comment saying what it means. Parsing the output
 * gives the same SiteConfig back. Leaf values are written as JSON (valid YAML).
 */
import { bearerRttMs, probeBytesPerHour, resumeBoundMs } from './profile.ts';
import { BEARER_KEYS, bearerLines, bearerName } from './bearers.ts';
import { natLines } from './render-nat.ts';
import type { LinkConfig, SiteConfig } from './site.ts';
import { LIMITS_HELP } from './limits.ts';
import { METERED_HELP, meteredLines } from './metered.ts';

/** One line of explanation per key; `[]` stands for any list index. */
const HELP: Record<string, string> = {
  site: 'name of this relay in logs and metrics',
  data_dir: 'spools (spool/<link name>/), caches, generated certs/keys, effective-config dump',
  local: 'the XMPP servers on this side',
  'local.domains': 'domains served by the XMPP servers on this side',
  'local.listen': 'S2S listeners: local servers connect here to reach remote domains',
  'local.direct_tls_listen': 'Direct TLS S2S listeners (XEP-0368)',
  'local.routes': 'static routes to local servers; others by DNS SRV, then A/AAAA',
  'local.tls': 'TLS toward local servers',
  'local.tls.cert': 'certificate presented for the remote domains; null = self-signed per domain, kept in data_dir',
  'local.tls.key': 'private key of local.tls.cert',
  'local.tls.require': 'refuse local S2S sessions without TLS',
  'local.delivery_window': 'stanzas of a link written to one local domain and still in the spool (not yet acknowledged by XEP-0198 and released on disk); after a kill -9 up to this many per local domain are delivered again',
  links: 'links to partner relays',
  'links[].name': 'link name in logs and metrics',
  'links[].domains': 'remote domains reached through this link ("*" = all others)',
  'links[].profile': 'link profile: a name under profiles/ or a file',
  'links[].transport': 'udp | serial | tcp | xep0361 (plain XEP-0361 XML stream over TCP)',
  'links[].bind': 'local address of the link',
  'links[].peer': 'partner relay address (for TCP, the side with peer dials)',
  'links[].device': 'serial device',
  'links[].baud': 'serial line speed, bit/s',
  'links[].key_file': 'pre-shared link key; both ends hold the same',
  'links[].role': 'this end is a, the partner b (or the reverse); default: derived from the two ends\' least domains',
  'links[].acks': 'xep0361: resend-and-dedup acks between satrelays (false for other XEP-0361 peers)',
  'links[].tls': 'xep0361: TLS on the link',
  'links[].tls.cert': 'this relay\'s link certificate (PEM)',
  'links[].tls.key': 'its private key (PEM)',
  'links[].tls.peer_fingerprint': 'SHA-256 fingerprint the partner\'s certificate must have; null = not checked',
  'links[].reconnect': 'back-off between reconnect attempts',
  'links[].reconnect.min_s': 'first retry after, s',
  'links[].reconnect.max_s': 'retry interval cap, s',
  'links[].limits': 'this link\'s own spool (data_dir/spool/<name>); defaults from limits:',
  'links[].limits.spool_max_bytes': 'spool size cap for this link, bytes',
  'links[].limits.spool_max_stanzas': 'spool stanza count cap for this link',
  'links[].tuning': 'link protocol tuning (profile values, overridden here, rest computed)',
  'links[].tuning.frame_bytes': 'link frame size, bytes (<= bearer mtu)',
  'links[].tuning.window_frames': 'ARQ window, frames (default 2 x bandwidth-delay product)',
  'links[].tuning.max_frames_in_flight': 'unacknowledged frames at most',
  'links[].tuning.rto_min_ms': 'retransmission timeout floor, ms',
  'links[].tuning.rto_max_ms': 'retransmission timeout cap, ms',
  'links[].tuning.ack_delay_ms': 'acknowledgement batching delay, ms',
  'links[].tuning.keepalive_s': 'keepalive interval when idle, s',
  'links[].tuning.link_down_after_s': 'link declared down (status, link_up 0) after this long without a frame from the partner, s',
  'links[].tuning.compression_level': 'deflate level 0-9',
  'links[].tuning.coalesce_delay_ms': 'how long a partly filled frame waits for more stanzas, ms',
  'links[].tuning.probe_interval_ms': 'probe cadence while the bearer is out and something waits, ms',
  'links[].bearers': 'bearers in order of preference (first = primary); one session, spool and ledger over all',
  'links[].bearers[].profile': 'this bearer\'s link profile: a name under profiles/ or a file',
  'links[].bearers[].transport': 'udp | serial | tcp',
  'links[].bearers[].bind': 'local address on this bearer',
  'links[].bearers[].peer': 'partner relay address on this bearer (none: learned from its frames)',
  'links[].bearers[].device': 'serial device',
  'links[].bearers[].baud': 'serial line speed, bit/s',
  'links[].bearers[].tuning': 'link protocol tuning on this bearer (profile values, overridden here, rest computed)',
  'links[].bearers[].metered': 'this bearer billed per MB (its own, else its profile\'s; null = not metered)',
  'links[].bearers[].tuning.failover_after_s': 'this bearer is declared down (the link fails over) after this long silent, s',
  'links[].failback_hold_s': 'a better bearer must be up this long before the link fails back to it, s',
  'links[].tuning.failover_after_s': 'with bearers: declared down after this long silent, s (default link_down_after_s)',
  'links[].tuning.nat_keepalive_s': 'keepalive of an end with peer, below the bearer\'s NAT timeout, s',
  optimize: 'what the relay does to traffic',
  'optimize.presence': 'coalesce (last state wins while queued) | fold (strip to show/status) | off',
  'optimize.disco_cache': 'answer repeated disco#info / caps queries on the near side',
  'optimize.fanout': 'send one copy of a presence/groupchat stanza for N far recipients',
  'optimize.drop': 'payloads dropped on the link: chatstates, xhtml',
  policy: 'boundary controls',
  'policy.allow': 'remote domains allowed ("*" = all)',
  'policy.block': 'remote domains refused',
  'policy.block_namespaces': 'payload namespaces refused (URIs or file-transfer, jingle)',
  metrics: 'Prometheus metrics',
  'metrics.listen': 'HTTP listener for /metrics and /status; null = off',
  log: 'logging',
  'log.level': 'fatal | error | warn | info | debug | trace | silent',
  limits: 'resource limits',
  'limits.max_stanza_bytes': 'largest stanza accepted, bytes (after decompression)',
  'limits.held_stanza_timeout_s': 'a stanza held longer is bounced with remote-server-timeout, s',
  'limits.spool_max_bytes': 'spool size cap per spooled link, bytes (default of links[].limits)',
  'limits.spool_max_stanzas': 'spool stanza count cap per spooled link (default of links[].limits)',
  s2s: 'S2S sessions with local servers',
  's2s.connect_timeout_s': 'outbound connect timeout, s',
  's2s.auth_timeout_s': 'time allowed to authenticate a session, s',
  's2s.idle_timeout_s': 'close an idle session after, s',
  's2s.dialback': 'offer and accept dialback (XEP-0220)',
  's2s.sasl_external': 'offer and use SASL EXTERNAL with certificates',
  's2s.dns_servers': 'DNS servers for SRV/A lookups; [] = system resolver',
  'local.clearance': 'XEP-0258 labels that may be delivered to the local servers; null = not checked',
  'links[].clearance': 'XEP-0258 labels that may cross to this link; null = not checked',
  'links[].equivalence': 'label rewrites: local policy label <-> the partner\'s equivalent',
  ...clearanceHelp('local.clearance'),
  ...clearanceHelp('links[].clearance'),
  'links[].equivalence[].local': 'this side\'s label',
  'links[].equivalence[].remote': 'the partner\'s equivalent label',
  ...labelSpecHelp('links[].equivalence[].local'),
  ...labelSpecHelp('links[].equivalence[].remote'),
  trust: 'S2S trust toward the local servers, per domain pattern (most specific wins)',
  'trust.anchors': 'extra PKIX trust anchors (PEM files), beside the system store',
  'trust.dnssec': 'DNSSEC-validating resolver for DANE (SRV, A, TLSA with the AD bit)',
  'trust.dnssec.servers': 'its addresses; [] = s2s.dns_servers, else the system resolvers',
  'trust.dnssec.trusted': 'trust its AD bit although it is not on loopback',
  'trust.rules': 'one rule per group of domain patterns; "*" covers the rest',
  'trust.rules[].domains': 'S2S peer domains this rule covers',
  'trust.rules[].tls': 'required | optional',
  'trust.rules[].min_tls_version': 'lowest TLS version accepted: TLSv1.2 | TLSv1.3',
  'trust.rules[].require_trusted_cert': 'the peer certificate must verify (PKIX, or DANE outbound)',
  'trust.rules[].dialback_without_trusted_cert': 'accept dialback when the peer certificate does not verify',
  'trust.rules[].dane': 'off | on (TLSA, when published securely, must match) | required',
  'trust.rules[].srv': 'static SRV records instead of DNS',
  'trust.rules[].srv[].target': 'host name',
  'trust.rules[].srv[].port': 'port',
  'trust.rules[].srv[].priority': 'RFC 2782 priority',
  'trust.rules[].srv[].weight': 'RFC 2782 weight',
  'trust.rules[].srv[].direct_tls': 'XEP-0368 Direct TLS (_xmpps-server)',
  'trust.rules[].a': 'static addresses per host name instead of DNS',
  'trust.rules[].tlsa': 'pinned TLSA records "usage selector matching-type hex" (DANE-TA 2, DANE-EE 3)',
  ...LIMITS_HELP,
  ...METERED_HELP,
};

function clearanceHelp(at: string): Record<string, string> {
  return {
    [`${at}.policies`]: 'security policy OIDs accepted (ESS), or XML label namespaces',
    [`${at}.max_classification`]: 'highest ESS security classification accepted',
    [`${at}.unlabeled`]: 'messages without a label: pass | refuse | a default label',
    [`${at}.categories`]: 'security categories ("OID" or "OID=value")',
    [`${at}.categories.required`]: 'each must be on the label',
    [`${at}.categories.allowed`]: 'every category on the label must be one of these; null = any',
    [`${at}.markings`]: 'display marking per classification (catalog, default labels)',
    ...labelSpecHelp(`${at}.unlabeled`),
  };
}

function labelSpecHelp(at: string): Record<string, string> {
  return {
    [`${at}.policy`]: 'ESS security policy OID',
    [`${at}.classification`]: 'ESS security classification',
    [`${at}.privacy_mark`]: 'ESS privacy mark',
    [`${at}.categories`]: 'ESS security categories "OID=value"',
    [`${at}.marking`]: 'display marking text',
    [`${at}.fgcolor`]: 'display marking colour',
    [`${at}.bgcolor`]: 'display marking background colour',
  };
}

/** Keys of a link written only when set (null means "not used by this transport"). */
const OMIT_WHEN_NULL = new Set(['bind', 'peer', 'device', 'baud', 'key_file', 'role', 'acks', 'tls', 'limits', 'bearers', 'failback_hold_s']);
/** A link with bearers: these are each bearer's (the link's copies are the primary's, not keys to write). */
const PER_BEARER = new Set<string>(BEARER_KEYS);
/** Derived fields: not site-file keys. */
const DERIVED = new Set(['profileConfig', 'keyId', 'sourceFile']);
/** Mappings written as nested blocks (the rest are leaves, except records). */
const RECORDS = new Set(['local.routes', 'trust.rules[].a']);

const json = (v: unknown): string => (Array.isArray(v) ? `[${v.map(json).join(', ')}]` : JSON.stringify(v));

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function line(indent: string, head: string, help: string | undefined): string {
  if (!help) return `${indent}${head}`;
  const pad = Math.max(1, 48 - indent.length - head.length);
  return `${indent}${head}${' '.repeat(pad)}# ${help}`;
}

function emitMap(obj: Record<string, unknown>, indent: string, pattern: string, out: string[], firstPrefix?: string): void {
  let first = true;
  for (const [k, v] of Object.entries(obj)) {
    if (DERIVED.has(k)) continue;
    if ((pattern.endsWith('links[]') || pattern.endsWith('bearers[]')) && OMIT_WHEN_NULL.has(k) && v === null) continue;
    if (pattern.endsWith('links[]') && PER_BEARER.has(k) && obj.bearers) continue;
    const path = pattern ? `${pattern}.${k}` : k;
    const help = HELP[path];
    const ind = first && firstPrefix !== undefined ? firstPrefix : indent;
    first = false;
    if (RECORDS.has(path) && isPlainObject(v)) {
      const entries = Object.entries(v);
      if (entries.length === 0) out.push(line(ind, `${k}: {}`, help));
      else {
        out.push(line(ind, `${k}:`, help));
        for (const [rk, rv] of entries) out.push(`${indent}  ${json(rk)}: ${json(rv)}`);
      }
    } else if (isPlainObject(v)) {
      out.push(line(ind, `${k}:`, help));
      emitMap(v, `${indent}  `, path, out);
    } else if (Array.isArray(v) && v.length > 0 && isPlainObject(v[0])) {
      out.push(line(ind, `${k}:`, help));
      for (const item of v) {
        if (path === 'links') out.push(...linkPreamble(item as unknown as LinkConfig, `${indent}  `, obj as unknown as SiteConfig));
        emitMap(item as Record<string, unknown>, `${indent}    `, `${path}[]`, out, `${indent}  - `);
      }
    } else {
      out.push(line(ind, `${k}: ${json(v)}`, help));
    }
  }
}

/** Comment lines before a link: the profile's bearer figures and the key id. */
function linkPreamble(l: LinkConfig, indent: string, cfg: SiteConfig): string[] {
  const p = l.profileConfig;
  if (!p) return [];
  const b = p.bearer;
  const loss = b.loss.model === 'bernoulli' ? `loss ${b.loss.p}` : `Gilbert-Elliott loss p_gb ${b.loss.p_gb} p_bg ${b.loss.p_bg}`;
  return [
    `${indent}# link ${json(l.name)}: profile ${p.name} (${p.file})`,
    `${indent}#   bearer: ${b.rate_bps} bit/s, ${b.delay_ms} ms one-way, RTT ~${bearerRttMs(b)} ms, ${loss}, mtu ${b.mtu}, ${b.duplex} duplex` +
      (b.outages.length ? `, ${b.outages.length} outage rule(s)` : ''),
    `${indent}#   outage: a probe every ${l.tuning.probe_interval_ms} ms while stanzas wait (<= ${Math.round(probeBytesPerHour(l.tuning) / 1024)} KiB per hour per end);` +
      ` first stanza within ~${(resumeBoundMs(b, l.tuning) / 1000).toFixed(1)} s of the bearer's return`,
    ...natLines(l, indent),
    ...(l.bearers ? [] : meteredLines(l.metered, cfg.policy.urgent, cfg.limits.held_stanza_timeout_s, indent)),
    ...bearerLines(l, indent),
    ...(l.bearers ?? []).flatMap((b, i) =>
      b.metered ? [`${indent}#   bearer ${bearerName(i, b)} is metered:`, ...meteredLines(b.metered, cfg.policy.urgent, cfg.limits.held_stanza_timeout_s, `${indent}  `)] : [],
    ),
    `${indent}#   key id: ${l.keyId ?? (l.key_file ? 'not read' : 'none')}`,
  ];
}

/** YAML text of the effective config, every default filled, one comment per key. */
export function renderEffectiveConfig(cfg: SiteConfig): string {
  const out = [`# satrelay effective configuration for site ${json(cfg.site)}`, `# from ${cfg.sourceFile}`, ''];
  emitMap(cfg as unknown as Record<string, unknown>, '', '', out);
  return `${out.join('\n')}\n`;
}

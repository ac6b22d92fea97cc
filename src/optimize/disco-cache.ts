/**
 * disco#info / entity-caps cache (XEP-0030 §3.1, XEP-0115 §5–6).
 *
 * Learns from disco#info results arriving over the link; answers later
 * queries from local servers on the near side, so they never cross the bearer.
 * - caps entries, keyed by node#ver: kept only when `ver` verifies against the
 *   result (XEP-0115 §5.1 string, §5.4 checks; the hash named by a <c/> seen in
 *   presence, else sha-1 / sha-256 / sha-512). They answer a query for that
 *   node#ver whatever JID it is addressed to, and live until LRU size or
 *   idle-age eviction (default 10000 entries, 30 days), because a verified ver
 *   names immutable content.
 * - plain entries, keyed by (JID, node): answer queries to that JID for that
 *   node only within plainMaxAgeMs (default 300 s), since they may change.
 * A query to a full JID (a client) is answered from either only while the last
 * presence seen crossing the link from that JID is available (PresenceSeen);
 * else it passes through, so the asker gets what the far server says about a
 * client that is gone or never was (RFC 6120 §10.5.4: service-unavailable).
 * A result whose node looks like node#ver (a base64 hash-sized ver) but does not
 * verify is passed on and not cached at all (counted as a verify mismatch).
 * Results that lack a node attribute get it from the remembered query (bounded
 * map keyed by id, from, to). The cache is persisted as one JSON file in
 * dataDir, written atomically and debounced, and re-verified when loaded.
 */
import { join } from 'node:path';
import { XmlElement } from '../xml/element.ts';
import { parseXml } from '../xml/parser.ts';
import { serialize } from '../xml/serialize.ts';
import { NS } from '../xmpp/ns.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { HookContext, StanzaHook } from '../relay/router.ts';
import type { RelayLink } from '../link/port.ts';
import { CAPS_HASHES, verifyCapsVer } from './caps-hash.ts';
import { JsonFileStore } from './store.ts';
import { PresenceSeen } from './presence-seen.ts';

export const DISCO_CACHE_FILE = 'disco-cache.json';

export interface DiscoCacheOptions {
  /** Directory of the persisted cache file; none: memory only. */
  dataDir?: string;
  /** Max age of a plain (JID, node) entry (default 300 s). */
  plainMaxAgeMs?: number;
  /** Idle age after which a caps entry is evicted (default 30 days). */
  capsMaxAgeMs?: number;
  /** Caps entries kept (LRU, default 10000). */
  maxEntries?: number;
  /** Plain entries kept (LRU, default 2000). */
  maxPlainEntries?: number;
  /** Outstanding outbound queries remembered (default 1000). */
  maxPending?: number;
  /** Persist debounce (default 1000 ms). */
  debounceMs?: number;
  /** Clock (ms since epoch); default Date.now. */
  now?: () => number;
  metrics?: Metrics;
  logger?: Logger;
}

interface CapsEntry { query: XmlElement; hash: string; used: number }
interface PlainEntry { query: XmlElement; at: number }

interface StoredDoc {
  v: 1;
  caps: [nodeVer: string, hash: string, used: number, query: string][];
  plain: [jid: string, node: string, at: number, query: string][];
}

/** Base64 length of each caps hash's digest. */
const VER_LENGTHS = new Set([28, 40, 44, 64, 88]);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The ver part of a node#ver string when it looks like a caps hash. */
export function capsVerOf(node: string | undefined): string | undefined {
  if (!node) return undefined;
  const i = node.lastIndexOf('#');
  if (i <= 0) return undefined;
  const ver = node.slice(i + 1);
  return VER_LENGTHS.has(ver.length) && BASE64.test(ver) ? ver : undefined;
}

function discoQuery(stanza: XmlElement): XmlElement | undefined {
  if (stanza.local !== 'iq') return undefined;
  const q = stanza.getChild('query', NS.DISCO_INFO);
  return q;
}

/** The stored body of a query: same children, without the node attribute. */
function bodyOf(query: XmlElement): XmlElement {
  const body = new XmlElement('query', { xmlns: NS.DISCO_INFO }, [], NS.DISCO_INFO);
  for (const c of query.children) body.children.push(typeof c === 'string' ? c : c.clone());
  return body;
}

export class DiscoCacheHook implements StanzaHook {
  readonly name = 'disco-cache';
  private readonly caps = new Map<string, CapsEntry>();
  private readonly plain = new Map<string, PlainEntry>();
  private readonly pending = new Map<string, string | undefined>();
  /** Hash names announced in presence <c/> per node#ver (bounded). */
  private readonly announced = new Map<string, string>();
  private readonly seen = new PresenceSeen();
  private readonly store?: JsonFileStore;
  private readonly now: () => number;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly plainMaxAge: number;
  private readonly capsMaxAge: number;
  private readonly maxEntries: number;
  private readonly maxPlain: number;
  private readonly maxPending: number;

  constructor(opts: DiscoCacheOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.metrics = opts.metrics ?? new Metrics();
    this.log = opts.logger ?? silentLogger;
    this.plainMaxAge = opts.plainMaxAgeMs ?? 300_000;
    this.capsMaxAge = opts.capsMaxAgeMs ?? 30 * 86_400_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.maxPlain = opts.maxPlainEntries ?? 2000;
    this.maxPending = opts.maxPending ?? 1000;
    if (opts.dataDir) {
      this.store = new JsonFileStore(join(opts.dataDir, DISCO_CACHE_FILE), { debounceMs: opts.debounceMs, logger: this.log, metrics: this.metrics });
      this.restore(this.store.load());
    }
  }

  /** Entries held now. */
  size(): { caps: number; plain: number } {
    return { caps: this.caps.size, plain: this.plain.size };
  }

  /** True when a verified caps entry for node#ver is held. */
  hasCaps(nodeVer: string): boolean {
    return this.caps.has(nodeVer);
  }

  outbound(stanza: XmlElement, link: RelayLink, ctx: HookContext): XmlElement | 'consumed' {
    if (stanza.local === 'presence') this.seen.note(stanza);
    if (stanza.attr('type') !== 'get') return stanza;
    const query = discoQuery(stanza);
    const id = stanza.attr('id');
    const to = stanza.attr('to');
    const from = stanza.attr('from');
    if (!query || id === undefined || !to || !from) return stanza;
    const node = query.attr('node');
    const now = this.now();
    let body: XmlElement | undefined;
    let kind: 'caps' | 'plain' = capsVerOf(node) ? 'caps' : 'plain';
    // A client (full JID) is answered for only while it is there; else the far side says what it says.
    const gone = to.includes('/') && !this.seen.isAvailable(to);
    if (gone) this.metrics.inc('optimize_cache_bypass_total', { reason: 'client_unavailable' });
    const c = node && !gone ? this.caps.get(node) : undefined;
    if (c && now - c.used <= this.capsMaxAge) {
      this.caps.delete(node!);
      this.caps.set(node!, c); // LRU: most recently used last
      c.used = now;
      body = c.query;
      kind = 'caps';
      this.persist();
    } else if (!gone) {
      if (c) this.evict(this.caps, node!, 'age');
      const pk = `${to}\u0000${node ?? ''}`;
      const p = this.plain.get(pk);
      if (p && now - p.at <= this.plainMaxAge) {
        body = p.query;
        kind = 'plain';
      } else if (p) this.evict(this.plain, pk, 'age');
    }
    if (!body) {
      this.metrics.inc('optimize_cache_misses_total', { kind });
      this.pending.delete(`${id}\u0000${from}\u0000${to}`);
      this.pending.set(`${id}\u0000${from}\u0000${to}`, node);
      while (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value!);
      return stanza;
    }
    const answer = body.clone();
    if (node !== undefined) answer.attrs.node = node;
    // XEP-0030 §3.1: the result comes from the queried JID, same id.
    ctx.replyLocal(new XmlElement('iq', { from: to, to: from, id, type: 'result' }, [answer], stanza.ns));
    this.metrics.inc('optimize_cache_hits_total', { kind });
    this.log.debug({ link: link.name, to, node, kind }, 'answered disco#info from the cache');
    return 'consumed';
  }

  inbound(stanza: XmlElement, link: RelayLink): XmlElement[] {
    if (stanza.local === 'presence') {
      this.notePresence(stanza);
      this.seen.note(stanza);
    }
    else if (stanza.attr('type') === 'result') this.learn(stanza, link);
    else if (stanza.attr('type') === 'error' && stanza.local === 'iq') {
      const id = stanza.attr('id');
      this.pending.delete(`${id}\u0000${stanza.attr('to')}\u0000${stanza.attr('from')}`);
    }
    return [stanza];
  }

  async close(): Promise<void> {
    await this.store?.close();
  }

  /** Writes the cache file now (tests, shutdown). */
  flush(): Promise<boolean> {
    return this.store?.flush() ?? Promise.resolve(true);
  }

  private notePresence(stanza: XmlElement): void {
    const c = stanza.getChild('c', NS.CAPS);
    const node = c?.attr('node');
    const ver = c?.attr('ver');
    const hash = c?.attr('hash');
    if (!node || !ver || !hash || !CAPS_HASHES[hash]) return;
    const key = `${node}#${ver}`;
    this.announced.delete(key);
    this.announced.set(key, hash);
    while (this.announced.size > this.maxEntries) this.announced.delete(this.announced.keys().next().value!);
  }

  private learn(stanza: XmlElement, link: RelayLink): void {
    const query = discoQuery(stanza);
    const from = stanza.attr('from');
    if (!query || !from) return;
    const pk = `${stanza.attr('id')}\u0000${stanza.attr('to')}\u0000${from}`;
    const asked = this.pending.get(pk);
    this.pending.delete(pk);
    const node = query.attr('node') ?? asked;
    const now = this.now();
    const ver = capsVerOf(node);
    if (ver) {
      const announced = this.announced.get(node!);
      const hash = verifyCapsVer(query, ver, announced ? [announced] : ['sha-1', 'sha-256', 'sha-512']);
      if (!hash) {
        this.metrics.inc('optimize_caps_verify_total', { result: 'mismatch' });
        this.log.warn({ link: link.name, from, node }, 'disco#info result does not match its caps ver; not cached');
        return;
      }
      this.metrics.inc('optimize_caps_verify_total', { result: 'ok' });
      this.caps.delete(node!);
      this.caps.set(node!, { query: bodyOf(query), hash, used: now });
      this.metrics.inc('optimize_cache_stores_total', { kind: 'caps' });
      this.bound(this.caps, this.maxEntries, now, this.capsMaxAge, (e) => e.used);
    } else {
      const key = `${from}\u0000${node ?? ''}`;
      this.plain.delete(key);
      this.plain.set(key, { query: bodyOf(query), at: now });
      this.metrics.inc('optimize_cache_stores_total', { kind: 'plain' });
      this.bound(this.plain, this.maxPlain, now, this.plainMaxAge, (e) => e.at);
    }
    this.persist();
  }

  /** LRU bound: drops idle-expired entries from the old end, then the oldest beyond max. */
  private bound<E>(map: Map<string, E>, max: number, now: number, maxAge: number, stamp: (e: E) => number): void {
    for (const [k, e] of map) {
      if (now - stamp(e) <= maxAge) break;
      this.evict(map, k, 'age');
    }
    while (map.size > max) this.evict(map, map.keys().next().value!, 'size');
    this.metrics.set('optimize_cache_entries', this.caps.size, { kind: 'caps' });
    this.metrics.set('optimize_cache_entries', this.plain.size, { kind: 'plain' });
  }

  private evict(map: Map<string, unknown>, key: string, reason: 'age' | 'size'): void {
    map.delete(key);
    this.metrics.inc('optimize_cache_evictions_total', { reason });
    this.persist();
  }

  private persist(): void {
    this.store?.schedule(() => this.snapshot());
  }

  private snapshot(): StoredDoc {
    return {
      v: 1,
      caps: [...this.caps].map(([k, e]) => [k, e.hash, e.used, serialize(e.query)]),
      plain: [...this.plain].map(([k, e]) => {
        const [jid, node] = k.split('\u0000');
        return [jid, node, e.at, serialize(e.query)];
      }),
    };
  }

  private restore(doc: unknown): void {
    if (!doc) return;
    const d = doc as Partial<StoredDoc>;
    if (d.v !== 1 || !Array.isArray(d.caps) || !Array.isArray(d.plain)) {
      this.metrics.inc('optimize_store_errors_total', { op: 'format' });
      this.log.warn('disco cache file has an unknown format; starting empty');
      return;
    }
    const now = this.now();
    let bad = 0;
    for (const row of d.caps) {
      try {
        const [nodeVer, hash, used, xml] = row;
        const ver = capsVerOf(nodeVer);
        const query = parseXml(xml);
        // Re-verify: the file is not trusted more than the link.
        if (!ver || typeof used !== 'number' || verifyCapsVer(query, ver, [hash]) !== hash) { bad++; continue; }
        if (now - used > this.capsMaxAge) continue;
        this.caps.set(nodeVer, { query, hash, used });
      } catch {
        bad++;
      }
    }
    for (const row of d.plain) {
      try {
        const [jid, node, at, xml] = row;
        if (typeof at !== 'number' || now - at > this.plainMaxAge) continue;
        this.plain.set(`${jid}\u0000${node}`, { query: parseXml(xml), at });
      } catch {
        bad++;
      }
    }
    if (bad > 0) {
      this.metrics.inc('optimize_store_errors_total', { op: 'entry' }, bad);
      this.log.warn({ bad }, 'skipped invalid disco cache entries');
    }
    // Entries were saved in LRU order; keep the bounds.
    while (this.caps.size > this.maxEntries) this.caps.delete(this.caps.keys().next().value!);
    while (this.plain.size > this.maxPlain) this.plain.delete(this.plain.keys().next().value!);
  }
}

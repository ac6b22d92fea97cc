/**
 * Caps stripping: an outbound presence's entity-caps element (XEP-0115 §4)
 * `<c xmlns='http://jabber.org/protocol/caps' hash node ver/>` is replaced by a
 * short marker once the partner relay has confirmed it holds that element:
 *
 *   <c xmlns='urn:satrelay:caps:0' h='H'/>
 *   H = first 22 chars of base64url(SHA-256(serialized original <c/>))
 *
 * The marker names the content, not a position in a table, so the two sides
 * cannot disagree about what an index means after either restarts.
 *
 * Safety rule (why a restart cannot lose a caps element):
 * 1. The receiver, on a full <c/> from the link, stores H -> element, writes
 *    its state file (atomic rename), and only THEN sends an ack for H back
 *    over the link (an iq type='result' carrying <caps xmlns='urn:satrelay:caps:0'>
 *    <ack h='H'/></caps>, addressed between the two domains of the presence,
 *    consumed by the partner's CapsStripHook; servers ignore stray results).
 * 2. The sender strips only elements acked on that link. Losing its own state
 *    is harmless: it sends full elements again and is re-acked.
 * 3. If a marker still arrives unknown (the receiver's state was wiped or
 *    evicted), the presence is delivered without caps, the failure is counted
 *    and logged, and a <forget h='H'/> goes back so the sender sends the full
 *    element next time. Markers are never guessed.
 * The receiving half is always on (the partner may strip even if we do not).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { XmlElement } from '../xml/element.ts';
import { parseXml } from '../xml/parser.ts';
import { serialize } from '../xml/serialize.ts';
import { domainOf } from '../xmpp/jid.ts';
import { NS } from '../xmpp/ns.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { HookContext, StanzaHook } from '../relay/router.ts';
import type { RelayLink } from '../link/port.ts';
import { JsonFileStore } from './store.ts';

export const CAPS_MARKER_NS = 'urn:satrelay:caps:0';
export const CAPS_STRIP_FILE = 'caps-strip.json';

export interface CapsStripOptions {
  /** Strip outbound (default true); the receiving half always runs. */
  strip?: boolean;
  /** Directory of the state file; none: memory only (tests). */
  dataDir?: string;
  /** Elements the receiving side keeps (LRU, default 50000). */
  maxKnown?: number;
  /** Acked elements remembered per link (LRU, default 10000). */
  maxAcked?: number;
  /** Delay before a batch of acks is sent (default 200 ms). */
  ackDelayMs?: number;
  /**
   * A known element seen in full again is re-acked after this delay (default
   * 60 s), doubling per re-ack up to a day, so a partner that never strips
   * costs little.
   */
  reackMs?: number;
  debounceMs?: number;
  now?: () => number;
  metrics?: Metrics;
  logger?: Logger;
}

interface StoredDoc {
  v: 1;
  known: [h: string, xml: string][];
  acked: Record<string, string[]>;
}

/** The marker hash of a caps element (its serialized form). */
export function capsMarkerHash(c: XmlElement): string {
  return createHash('sha256').update(serialize(c), 'utf8').digest('base64url').slice(0, 22);
}

interface AckBatch {
  ack: Set<string>;
  forget: Set<string>;
  from: string;
  to: string;
  ctx: HookContext;
  timer?: NodeJS.Timeout;
}

export class CapsStripHook implements StanzaHook {
  readonly name = 'caps-strip';
  /** Receiver: H -> serialized element (LRU). */
  private readonly known = new Map<string, string>();
  /** Sender: per link, H acked by the partner (LRU). */
  private readonly acked = new Map<string, Map<string, true>>();
  /** Receiver: per link and H, when it was last acked and how often. */
  private readonly ackedAt = new Map<string, { at: number; n: number }>();
  private readonly batches = new Map<string, AckBatch>();
  private readonly store?: JsonFileStore;
  private readonly strip: boolean;
  private readonly maxKnown: number;
  private readonly maxAcked: number;
  private readonly ackDelay: number;
  private readonly reackMs: number;
  private readonly now: () => number;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private seq = 0;
  private closed = false;
  private inFlight = new Set<Promise<void>>();

  constructor(opts: CapsStripOptions = {}) {
    this.strip = opts.strip ?? true;
    this.maxKnown = opts.maxKnown ?? 50_000;
    this.maxAcked = opts.maxAcked ?? 10_000;
    this.ackDelay = opts.ackDelayMs ?? 200;
    this.reackMs = opts.reackMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.metrics = opts.metrics ?? new Metrics();
    this.log = opts.logger ?? silentLogger;
    if (opts.dataDir) {
      this.store = new JsonFileStore(join(opts.dataDir, CAPS_STRIP_FILE), { debounceMs: opts.debounceMs, logger: this.log, metrics: this.metrics });
      this.restore(this.store.load());
    }
  }

  /** True when the partner on this link has acked the element with hash h. */
  isAcked(link: string, h: string): boolean {
    return this.acked.get(link)?.has(h) ?? false;
  }

  outbound(stanza: XmlElement, link: RelayLink): XmlElement {
    if (!this.strip || stanza.local !== 'presence') return stanza;
    const c = stanza.getChild('c', NS.CAPS);
    if (!c) return stanza;
    const h = capsMarkerHash(c);
    const set = this.acked.get(link.name);
    if (!set?.has(h)) {
      this.metrics.inc('optimize_caps_strip_total', { link: link.name, result: 'full' });
      return stanza;
    }
    set.delete(h);
    set.set(h, true);
    const out = stanza.clone();
    const i = stanza.children.indexOf(c);
    out.children[i] = new XmlElement('c', { xmlns: CAPS_MARKER_NS, h }, [], CAPS_MARKER_NS);
    out.touch();
    this.metrics.inc('optimize_caps_strip_total', { link: link.name, result: 'stripped' });
    return out;
  }

  inbound(stanza: XmlElement, link: RelayLink, ctx: HookContext): XmlElement[] {
    if (stanza.local === 'iq' && stanza.attr('type') === 'result') {
      const body = stanza.getChild('caps', CAPS_MARKER_NS);
      if (!body) return [stanza];
      this.onAcks(body, link.name);
      return [];
    }
    if (stanza.local !== 'presence') return [stanza];
    const marker = stanza.getChild('c', CAPS_MARKER_NS);
    if (marker) return [this.restoreMarker(stanza, marker, link, ctx)];
    const c = stanza.getChild('c', NS.CAPS);
    if (c) this.learnFull(stanza, c, link, ctx);
    return [stanza];
  }

  /** Sends pending acks now and writes the state file. */
  async flush(): Promise<void> {
    for (const [link, b] of this.batches) {
      if (b.timer) clearTimeout(b.timer);
      await this.sendBatch(link);
    }
    await Promise.all([...this.inFlight]);
    await this.store?.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.store?.close();
  }

  private restoreMarker(stanza: XmlElement, marker: XmlElement, link: RelayLink, ctx: HookContext): XmlElement {
    const h = marker.attr('h') ?? '';
    const xml = this.known.get(h);
    const out = stanza.clone();
    const i = stanza.children.indexOf(marker);
    if (xml === undefined) {
      out.children.splice(i, 1);
      out.touch();
      this.metrics.inc('optimize_caps_restore_total', { link: link.name, result: 'unknown' });
      this.log.warn({ link: link.name, h, from: stanza.attr('from') }, 'unknown caps marker: delivered without caps, asking the partner to resend it');
      this.queue(link.name, stanza, ctx, 'forget', h);
      return out;
    }
    this.known.delete(h);
    this.known.set(h, xml);
    out.children[i] = parseXml(xml);
    out.touch();
    this.metrics.inc('optimize_caps_restore_total', { link: link.name, result: 'restored' });
    return out;
  }

  private learnFull(stanza: XmlElement, c: XmlElement, link: RelayLink, ctx: HookContext): void {
    const h = capsMarkerHash(c);
    const had = this.known.has(h);
    if (had) this.known.delete(h);
    this.known.set(h, serialize(c));
    while (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value!);
    if (!had) this.persist();
    const ak = `${link.name}\u0000${h}`;
    const last = this.ackedAt.get(ak);
    if (last && this.now() - last.at < Math.min(this.reackMs * 2 ** (last.n - 1), 86_400_000)) return;
    this.queue(link.name, stanza, ctx, 'ack', h);
  }

  private queue(link: string, stanza: XmlElement, ctx: HookContext, kind: 'ack' | 'forget', h: string): void {
    if (this.closed) return;
    // Reply from the presence's recipient domain (ours) to its sender's domain (theirs).
    const from = domainOf(stanza.attr('to'));
    const to = domainOf(stanza.attr('from'));
    if (!from || !to) return;
    let b = this.batches.get(link);
    if (!b) {
      b = { ack: new Set(), forget: new Set(), from, to, ctx };
      this.batches.set(link, b);
    }
    b[kind].add(h);
    if (kind === 'ack') b.forget.delete(h);
    else b.ack.delete(h);
    if (!b.timer) {
      b.timer = setTimeout(() => {
        const p = this.sendBatch(link);
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p));
      }, this.ackDelay);
      b.timer.unref();
    }
  }

  private async sendBatch(link: string): Promise<void> {
    const b = this.batches.get(link);
    if (!b) return;
    this.batches.delete(link);
    // Rule 1: the known table is on disk before any ack leaves.
    if (this.store && !(await this.store.flush())) {
      this.metrics.inc('optimize_caps_acks_total', { link, result: 'not_persisted' });
      return;
    }
    const now = this.now();
    const hs = [...b.ack];
    const fs = [...b.forget];
    for (let i = 0; i < Math.max(hs.length, fs.length); i += 200) {
      const body = new XmlElement('caps', { xmlns: CAPS_MARKER_NS }, [], CAPS_MARKER_NS);
      for (const h of hs.slice(i, i + 200)) body.children.push(new XmlElement('ack', { h }, [], CAPS_MARKER_NS));
      for (const h of fs.slice(i, i + 200)) body.children.push(new XmlElement('forget', { h }, [], CAPS_MARKER_NS));
      b.ctx.replyRemote(new XmlElement('iq', { from: b.from, to: b.to, id: `satrelay-caps-${++this.seq}`, type: 'result' }, [body], NS.SERVER));
    }
    for (const h of hs) {
      const k = `${link}\u0000${h}`;
      const n = (this.ackedAt.get(k)?.n ?? 0) + 1;
      this.ackedAt.delete(k);
      this.ackedAt.set(k, { at: now, n });
    }
    while (this.ackedAt.size > this.maxKnown) this.ackedAt.delete(this.ackedAt.keys().next().value!);
    this.metrics.inc('optimize_caps_acks_total', { link, result: 'sent' }, hs.length + fs.length);
  }

  private onAcks(body: XmlElement, link: string): void {
    let set = this.acked.get(link);
    if (!set) {
      set = new Map();
      this.acked.set(link, set);
    }
    for (const e of body.elements()) {
      const h = e.attr('h');
      if (!h || !/^[A-Za-z0-9_-]{22}$/.test(h)) continue;
      if (e.local === 'ack') {
        set.delete(h);
        set.set(h, true);
      } else if (e.local === 'forget') set.delete(h);
    }
    while (set.size > this.maxAcked) set.delete(set.keys().next().value!);
    this.metrics.inc('optimize_caps_acks_received_total', { link });
    this.persist();
  }

  private persist(): void {
    this.store?.schedule((): StoredDoc => ({
      v: 1,
      known: [...this.known],
      acked: Object.fromEntries([...this.acked].map(([l, s]) => [l, [...s.keys()]])),
    }));
  }

  private restore(doc: unknown): void {
    if (!doc) return;
    const d = doc as Partial<StoredDoc>;
    if (d.v !== 1 || !Array.isArray(d.known) || typeof d.acked !== 'object' || d.acked === null) {
      this.metrics.inc('optimize_store_errors_total', { op: 'format' });
      this.log.warn('caps-strip state has an unknown format; starting empty');
      return;
    }
    for (const row of d.known) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || typeof row[1] !== 'string') continue;
      try {
        // The hash must still name the element (a damaged file must not restore a wrong one).
        if (capsMarkerHash(parseXml(row[1])) === row[0]) this.known.set(row[0], row[1]);
      } catch {
        this.metrics.inc('optimize_store_errors_total', { op: 'entry' });
      }
    }
    for (const [link, hs] of Object.entries(d.acked)) {
      if (Array.isArray(hs)) this.acked.set(link, new Map(hs.filter((h): h is string => typeof h === 'string').map((h) => [h, true])));
    }
  }
}

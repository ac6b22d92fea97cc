/**
 * The constrained link's outbound queue, as a pure data structure (no I/O, no
 * clock: `acceptedAt` and `now` come from the caller).
 *
 * - Priority: every 'high' item (message, iq) is taken before any 'low' one
 *   (presence); FIFO within a class.
 * - Presence coalescing (coalescePresence): while an available/unavailable
 *   presence from one full JID to one recipient is queued, a newer one with the
 *   same (from, to) replaces it (last state wins, RFC 6121 §4.4 broadcasts
 *   carry state, not events). Never coalesced away: subscription stanzas and
 *   probes (RFC 6121 §3, §4.3), error presences, and MUC joins (XEP-0045 §7.2,
 *   they carry the join payload). push() returns the ids it dropped so the
 *   caller deletes them from its spool.
 * - Fan-out (fanout): when the head stanza has identical copies queued (same
 *   name, attributes and children except `to`, same to-domain, same class) and
 *   it is a presence broadcast or a groupchat message, take() gives ONE item
 *   covering all their ids, encoded by foldCopies() (fanout.ts). A copy is only
 *   folded when nothing else from the same sender to the same recipient is
 *   queued ahead of it, so per-(from,to) order is kept.
 */
import type { XmlElement } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { domainOf } from '../xmpp/jid.ts';
import { Metrics } from '../obs/metrics.ts';
import { foldCopies } from './fanout.ts';

export interface QueuedStanza {
  /** Durable spool id. */
  id: bigint;
  el: XmlElement;
  bytes: number;
  priority: 'high' | 'low';
  acceptedAt: number;
}

export interface TakenItem {
  /** Spool ids this item covers, ascending. */
  ids: bigint[];
  /** What to send (may be a folded stanza). */
  el: XmlElement;
  priority: 'high' | 'low';
}

export interface OutboundQueueOptions {
  coalescePresence: boolean;
  fanout: boolean;
  metrics?: Metrics;
  link?: string;
}

interface Entry {
  s: QueuedStanza;
  alive: boolean;
  /** class + from + to: per-recipient order. */
  key: string;
  /** Fan-out signature (class, to-domain, stanza without `to`), when eligible. */
  sig?: string;
  /** A queued presence a newer one may replace. */
  supersedable: boolean;
}

const MUC_NS = 'http://jabber.org/protocol/muc';

/** Presence that carries state only (available or unavailable), not a subscription, probe or error. */
function isStatePresence(el: XmlElement): boolean {
  if (el.local !== 'presence') return false;
  const type = el.attr('type');
  return type === undefined || type === 'unavailable';
}

/** Which fold kind a stanza is eligible for, if any. */
function foldKind(el: XmlElement): 'presence' | 'groupchat' | undefined {
  if (el.attr('to') === undefined) return undefined;
  if (isStatePresence(el)) return el.getChild('x', MUC_NS) ? undefined : 'presence';
  if (el.local === 'message' && el.attr('type') === 'groupchat') return 'groupchat';
  return undefined;
}

class ClassQueue {
  items: Entry[] = [];
  head = 0;
  first(): Entry | undefined {
    while (this.head < this.items.length && !this.items[this.head].alive) this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }
}

function removeFrom<T>(map: Map<string, T[]>, k: string, v: T): void {
  const list = map.get(k);
  if (!list) return;
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
  if (list.length === 0) map.delete(k);
}

export class OutboundQueue {
  private readonly high = new ClassQueue();
  private readonly low = new ClassQueue();
  private readonly byKey = new Map<string, Entry[]>();
  private readonly bySig = new Map<string, Entry[]>();
  private readonly lastPresence = new Map<string, Entry>();
  private count = 0;
  private totalBytes = 0;
  private readonly metrics: Metrics;
  private readonly link: string;

  constructor(private readonly opts: OutboundQueueOptions) {
    this.metrics = opts.metrics ?? new Metrics();
    this.link = opts.link ?? '';
  }

  get length(): number {
    return this.count;
  }

  bytes(): number {
    return this.totalBytes;
  }

  push(s: QueuedStanza): { superseded: bigint[] } {
    const el = s.el;
    const from = el.attr('from') ?? '';
    const to = el.attr('to') ?? '';
    const key = `${s.priority}\u0000${from}\u0000${to}`;
    const state = isStatePresence(el);
    const entry: Entry = { s, alive: true, key, supersedable: state && !el.getChild('x', MUC_NS) };
    const superseded: bigint[] = [];
    if (this.opts.coalescePresence && state) {
      const prev = this.lastPresence.get(key);
      if (prev && prev.alive && prev.supersedable) {
        this.remove(prev);
        superseded.push(prev.s.id);
        this.metrics.inc('optimize_coalesced_total', { link: this.link });
      }
      this.lastPresence.set(key, entry);
    }
    if (this.opts.fanout) {
      const kind = foldKind(el);
      if (kind) {
        const masked = el.clone().setAttr('to', '\u0000');
        entry.sig = `${s.priority}\u0000${domainOf(to) ?? ''}\u0000${el.ns}\u0000${serialize(masked)}`;
        const same = this.bySig.get(entry.sig);
        if (same) same.push(entry);
        else this.bySig.set(entry.sig, [entry]);
      }
    }
    const list = this.byKey.get(key);
    if (list) list.push(entry);
    else this.byKey.set(key, [entry]);
    (s.priority === 'high' ? this.high : this.low).items.push(entry);
    this.count++;
    this.totalBytes += s.bytes;
    return { superseded };
  }

  take(): TakenItem | undefined {
    const head = this.high.first() ?? this.low.first();
    if (!head) return undefined;
    const group = [head];
    if (head.sig) {
      for (const c of this.bySig.get(head.sig) ?? []) {
        // Fold only a copy that is next in line for its own (from, to).
        if (c !== head && this.byKey.get(c.key)?.[0] === c) group.push(c);
      }
    }
    for (const e of group) this.remove(e);
    if (group.length === 1) return { ids: [head.s.id], el: head.s.el, priority: head.s.priority };
    const kind = foldKind(head.s.el)!;
    this.metrics.inc('optimize_folds_total', { kind, link: this.link });
    this.metrics.inc('optimize_fold_saved_stanzas_total', { kind, link: this.link }, group.length - 1);
    const ids = group.map((e) => e.s.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return { ids, el: foldCopies(group.map((e) => e.s.el)), priority: head.s.priority };
  }

  /** Removes and returns every queued stanza accepted more than ageMs before now, oldest first. */
  expireOlderThan(now: number, ageMs: number): QueuedStanza[] {
    const out: QueuedStanza[] = [];
    for (const q of [this.high, this.low]) {
      for (let i = q.head; i < q.items.length; i++) {
        const e = q.items[i];
        if (e.alive && now - e.s.acceptedAt > ageMs) {
          this.remove(e);
          out.push(e.s);
        }
      }
    }
    if (out.length > 0) this.metrics.inc('optimize_queue_expired_total', { link: this.link }, out.length);
    return out.sort((a, b) => a.acceptedAt - b.acceptedAt);
  }

  private remove(e: Entry): void {
    if (!e.alive) return;
    e.alive = false;
    this.count--;
    this.totalBytes -= e.s.bytes;
    removeFrom(this.byKey, e.key, e);
    if (e.sig) removeFrom(this.bySig, e.sig, e);
    if (this.lastPresence.get(e.key) === e) this.lastPresence.delete(e.key);
  }
}

/**
 * The soak ledger: every stanza the harness injects, from send to its one
 * outcome. A stanza must end either delivered exactly once to the far
 * server, or answered to its sender with a stanza error (type="error", same
 * id; RFC 6120 §8.3) — never both, never neither, never twice.
 *
 * Outcomes that are correct by design and counted apart:
 *  - answered near: an iq get the sending relay answered from its cache
 *    (disco#info, XEP-0115) with type="result";
 *  - superseded: an available presence replaced in the relay's queue by a
 *    newer one with the same from/to (presence coalescing);
 *  - unanswerable refusal: an iq result refused by a relay (out of disk):
 *    results cannot be bounced (RFC 6120 §8.3.1), so nobody is told.
 * Bounces are split by who made them: the sender's own server (its session
 * to the relay failed: relay down), or a relay (by condition).
 */
import type { XmlElement } from '../../src/xml/element.ts';
import type { Side } from '../../src/sim/index.ts';
import { SITE_DEFAULTS } from '../../src/config/defaults.ts';

export type EntryKind = 'message' | 'presence' | 'iq' | 'result';

export interface Entry {
  id: string;
  kind: EntryKind;
  from: Side;
  /** from / to JIDs as sent. */
  fromJid: string;
  toJid: string;
  sentAt: number;
  delivered: number;
  /** harness time of the first delivery. */
  firstDeliveredAt?: number;
  /** error answers that reached the sender (relay bounces) or its own server's refusals. */
  errors: Array<{ origin: 'relay' | 'own-server'; condition: string }>;
  answeredNear: boolean;
}

export interface LedgerVerdict {
  sent: number;
  byKind: Record<EntryKind, number>;
  delivered: number;
  bounced: number;
  /** bounces by origin and condition, e.g. "relay:resource-constraint". */
  bouncedBy: Record<string, number>;
  /** of the bounced: by design (held-timeout on the link, full spool or disk). */
  bouncedByDesign: number;
  answeredNear: number;
  superseded: number;
  unanswerableRefusals: number;
  lost: number;
  duplicated: number;
  /**
   * of the duplicated: delivered twice by a relay killed (-9) within
   * CRASH_WINDOW_MS after the first delivery, the window README documents (a
   * crash between writing to the local server and recording it), at most
   * crashAllowance(deliveryWindow) per kill and destination domain. Reported,
   * not counted as a failure.
   */
  crashWindowDuplicates: number;
  /** delivered and also answered with an error. */
  deliveredAndBounced: number;
  /** answered with an error more than once. */
  bouncedTwice: number;
  /** stanzas that arrived which the harness never sent (or cannot match). */
  unexpected: number;
  /** a few examples of each failure, for the report. */
  examples: Record<string, string[]>;
  ok: boolean;
}

/** Conditions a relay answers with by design: held past held_stanza_timeout_s, spool or disk full. */
const BY_DESIGN = new Set(['remote-server-timeout', 'resource-constraint']);

/** How long after a first delivery a kill -9 of the delivering relay may still make it deliver again. */
export const CRASH_WINDOW_MS = 1000;

/**
 * Stanzas one kill -9 may deliver again to one destination domain: the
 * relay's local.delivery_window (written and still in its spool: a stanza
 * keeps its place in the window until its release is committed, operator
 * guide "Delivery window"), plus one as a margin.
 */
export function crashAllowance(deliveryWindow: number): number {
  return deliveryWindow + 1;
}

function stanzaKind(el: XmlElement): EntryKind {
  if (el.local === 'iq') return el.attr('type') === 'result' ? 'result' : 'iq';
  return el.local as EntryKind;
}

export class Ledger {
  /** key: id + '\n' + kind class ('q' for the stanza, 'r' for an iq result answering it). */
  private readonly entries = new Map<string, Entry>();
  private unexpected = 0;
  private readonly unexpectedExamples: string[] = [];
  /** [from, to) ms windows per side in which that side's relay refused writes (disk full). */
  private readonly refusalWindows: Record<Side, Array<[number, number]>> = { a: [], b: [] };
  /** when each side's relay was killed (-9). */
  private readonly kills: Record<Side, number[]> = { a: [], b: [] };
  private counts = { delivered: 0, bounced: 0 };
  private readonly allowance: number;

  /** deliveryWindow: both relays' local.delivery_window (default: the site-file default). */
  constructor(o: { deliveryWindow?: number } = {}) {
    this.allowance = crashAllowance(o.deliveryWindow ?? SITE_DEFAULTS.local.delivery_window);
  }

  private static key(id: string, kind: EntryKind): string {
    return `${id}\n${kind === 'result' ? 'r' : 'q'}`;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records a stanza the harness is about to inject at side `from`'s server. */
  sent(from: Side, el: XmlElement, now: number): Entry {
    const id = el.attr('id');
    if (!id) throw new Error('ledger: a stanza without id');
    const kind = stanzaKind(el);
    const key = Ledger.key(id, kind);
    if (this.entries.has(key)) throw new Error(`ledger: id ${id} (${kind}) sent twice`);
    const e: Entry = { id, kind, from, fromJid: el.attr('from') ?? '', toJid: el.attr('to') ?? '', sentAt: now, delivered: 0, errors: [], answeredNear: false };
    this.entries.set(key, e);
    return e;
  }

  /** The entry for an iq get/set, if the harness sent it. */
  query(id: string): Entry | undefined {
    return this.entries.get(Ledger.key(id, 'iq'));
  }

  /**
   * A stanza arrived at side `side`'s server. Returns the entry it delivered
   * (first delivery or duplicate), or undefined for answers and unknowns.
   */
  arrived(side: Side, el: XmlElement, now = 0): { entry?: Entry; firstDelivery: boolean } {
    const id = el.attr('id') ?? '';
    const type = el.attr('type');
    if (type === 'error') {
      // A bounce: its `to` is the original sender.
      const orig = this.entries.get(Ledger.key(id, 'iq')) ?? this.entries.get(Ledger.key(id, 'message'));
      if (orig && orig.from === side && orig.fromJid === el.attr('to')) {
        orig.errors.push({ origin: 'relay', condition: errorCondition(el) });
        this.counts.bounced++;
        return { firstDelivery: false };
      }
      this.noteUnexpected(side, el);
      return { firstDelivery: false };
    }
    if (el.local === 'iq' && type === 'result') {
      const reply = this.entries.get(Ledger.key(id, 'result'));
      if (reply && reply.from !== side && reply.toJid === el.attr('to')) return this.deliver(reply, now);
      const q = this.query(id);
      if (q && q.from === side && q.fromJid === el.attr('to') && q.delivered === 0 && !q.answeredNear) {
        // Answered by the near relay's cache, without crossing.
        q.answeredNear = true;
        return { firstDelivery: false };
      }
      this.noteUnexpected(side, el);
      return { firstDelivery: false };
    }
    const e = this.entries.get(Ledger.key(id, stanzaKind(el)));
    if (!e || e.from === side || e.toJid !== el.attr('to')) {
      this.noteUnexpected(side, el);
      return { firstDelivery: false };
    }
    return this.deliver(e, now);
  }

  /** The sender's own server could not pass a stanza to its relay (session failed): it answers the sender. */
  refusedBySender(side: Side, el: XmlElement, condition: string): void {
    const id = el.attr('id') ?? '';
    const e = this.entries.get(Ledger.key(id, stanzaKind(el)));
    if (!e || e.from !== side) {
      this.noteUnexpected(side, el);
      return;
    }
    e.errors.push({ origin: 'own-server', condition });
    this.counts.bounced++;
  }

  /** Side `side`'s relay refuses writes (disk full) from `from` to `to` (ms, same clock as sent()). */
  refusalWindow(side: Side, from: number, to: number): void {
    this.refusalWindows[side].push([from, to]);
  }

  /** Side `side`'s relay was killed (-9) at `at`. */
  relayKilled(side: Side, at: number): void {
    this.kills[side].push(at);
  }

  /** Delivered twice by a relay killed within CRASH_WINDOW_MS of the first delivery: that kill (side and time). */
  private crashKill(e: Entry): string | undefined {
    const at = e.firstDeliveredAt;
    const by: Side = e.from === 'a' ? 'b' : 'a';
    if (e.delivered !== 2 || at === undefined) return undefined;
    const k = this.kills[by].find((k) => k >= at && k - at <= CRASH_WINDOW_MS);
    return k === undefined ? undefined : `${by}@${k}`;
  }

  /** Entries with no outcome yet (neither delivered nor answered, nor explained by design). */
  pending(): number {
    const done = this.presenceDone();
    let n = 0;
    for (const e of this.entries.values()) if (!settled(e) && !this.explained(e, done)) n++;
    return n;
  }

  /** Latest send time of a settled presence, per from/to. */
  private presenceDone(): Map<string, number> {
    const done = new Map<string, number>();
    for (const e of this.entries.values()) {
      if (e.kind === 'presence' && settled(e)) {
        const k = `${e.fromJid}\n${e.toJid}`;
        done.set(k, Math.max(done.get(k) ?? 0, e.sentAt));
      }
    }
    return done;
  }

  /** An unsettled entry whose silence is by design: superseded presence, or a result refused on a full disk. */
  private explained(e: Entry, presenceDone: Map<string, number>): 'superseded' | 'unanswerable' | undefined {
    if (e.kind === 'presence' && (presenceDone.get(`${e.fromJid}\n${e.toJid}`) ?? -1) > e.sentAt) return 'superseded';
    if (e.kind === 'result' && this.refusalWindows[e.from].some(([a, b]) => e.sentAt >= a && e.sentAt <= b)) return 'unanswerable';
    return undefined;
  }

  progress(): { sent: number; delivered: number; bounced: number; pending: number } {
    return { sent: this.entries.size, ...this.counts, pending: this.pending() };
  }

  /** The final judgement (call after the pair drained). */
  verdict(): LedgerVerdict {
    const v: LedgerVerdict = {
      sent: this.entries.size, byKind: { message: 0, presence: 0, iq: 0, result: 0 }, delivered: 0, bounced: 0, bouncedBy: {},
      bouncedByDesign: 0, answeredNear: 0, superseded: 0, unanswerableRefusals: 0, lost: 0, duplicated: 0, crashWindowDuplicates: 0,
      deliveredAndBounced: 0, bouncedTwice: 0, unexpected: this.unexpected, examples: {}, ok: false,
    };
    const example = (what: string, e: Entry | string): void => {
      const list = (v.examples[what] ??= []);
      if (list.length < 5) list.push(typeof e === 'string' ? e : `${e.kind} ${e.id} ${e.fromJid} -> ${e.toJid} sent@${Math.round(e.sentAt)}ms delivered=${e.delivered} errors=${JSON.stringify(e.errors)}`);
    };
    const presenceDone = this.presenceDone();
    /** crash-window duplicates per kill and destination domain */
    const perLane = new Map<string, number>();
    for (const e of this.entries.values()) {
      v.byKind[e.kind]++;
      if (e.delivered > 1) {
        v.duplicated++;
        const kill = this.crashKill(e);
        const lane = `${kill}\n${e.toJid.split('/')[0].split('@').pop()}`;
        const n = kill === undefined ? 0 : (perLane.get(lane) ?? 0) + 1;
        if (kill !== undefined) perLane.set(lane, n);
        if (kill !== undefined && n <= this.allowance) {
          v.crashWindowDuplicates++;
          example('duplicated in the crash window', e);
        } else example('duplicated', e);
      }
      if (e.errors.length > 1) {
        v.bouncedTwice++;
        example('bounced twice', e);
      }
      if (e.delivered > 0 && (e.errors.length > 0 || e.answeredNear)) {
        v.deliveredAndBounced++;
        example('delivered and bounced', e);
        continue;
      }
      if (e.delivered > 0) {
        v.delivered++;
        continue;
      }
      if (e.answeredNear && e.errors.length === 0) {
        v.answeredNear++;
        continue;
      }
      if (e.errors.length > 0) {
        v.bounced++;
        const b = e.errors[0];
        const k = `${b.origin}:${b.condition}`;
        v.bouncedBy[k] = (v.bouncedBy[k] ?? 0) + 1;
        if (b.origin === 'relay' && BY_DESIGN.has(b.condition)) v.bouncedByDesign++;
        continue;
      }
      const why = this.explained(e, presenceDone);
      if (why === 'superseded') {
        v.superseded++;
        continue;
      }
      if (why === 'unanswerable') {
        v.unanswerableRefusals++;
        continue;
      }
      v.lost++;
      example('lost', e);
    }
    for (const u of this.unexpectedExamples) example('unexpected', u);
    v.ok = v.lost === 0 && v.duplicated === v.crashWindowDuplicates && v.deliveredAndBounced === 0 && v.bouncedTwice === 0;
    return v;
  }

  private deliver(e: Entry, now: number): { entry: Entry; firstDelivery: boolean } {
    e.delivered++;
    if (e.delivered === 1) {
      this.counts.delivered++;
      e.firstDeliveredAt = now;
    }
    return { entry: e, firstDelivery: e.delivered === 1 };
  }

  private noteUnexpected(side: Side, el: XmlElement): void {
    this.unexpected++;
    if (this.unexpectedExamples.length < 5) this.unexpectedExamples.push(`at ${side}: ${el.toString().slice(0, 200)}`);
  }
}

function settled(e: Entry): boolean {
  return e.delivered > 0 || e.errors.length > 0 || e.answeredNear;
}

/** The defined condition of a stanza error (RFC 6120 §8.3.3), or "undefined-condition". */
export function errorCondition(el: XmlElement): string {
  const err = el.elements().find((c) => c.local === 'error');
  const cond = err?.elements().find((c) => c.ns === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.local !== 'text');
  return cond?.local ?? 'undefined-condition';
}

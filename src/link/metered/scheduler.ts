/**
 * The outbound scheduler of a link with a metered bearer: the relay's own
 * scheduler (optimize's OutboundQueue: priority, presence coalescing, fan-out
 * folding), one per stanza class, behind a gate that asks the meter what each
 * class may do now (meter.ts):
 *  - send: taken in the usual order (messages, iq and disco before presence,
 *    first accepted first across classes);
 *  - hold: stays queued, and presence keeps coalescing while it waits; its
 *    hold time still bounces it (expireOlderThan);
 *  - refuse (budget spent, not urgent): handed back through refused() with a
 *    resource-constraint error (RFC 6120 §8.3.3.18) for the outbox to bounce.
 * Pure data structure: the wall time comes from `wall`, decisions from the meter.
 */
import { STANZA_CLASSES, type StanzaClass } from '../../config/metered.ts';
import type { XmlElement } from '../../xml/element.ts';
import { StanzaError } from '../../xmpp/errors.ts';
import type { OutboundScheduler, RefusedStanza, ScheduledStanza, TakenStanzas } from '../port.ts';
import type { BearerMeter } from './meter.ts';
import { stanzaClass } from './classes.ts';

export interface MeteredSchedulerOptions {
  /** A fresh inner scheduler (one per class). */
  make(cls: StanzaClass): OutboundScheduler;
  meter: BearerMeter;
  /** policy.urgent: crosses a spent budget. */
  isUrgent(el: XmlElement): boolean;
  /** Wall-clock ms (the UTC day of the budget). */
  wall(): number;
  /** Brings the meter's byte count up to date before a decision (the host reads the link's counters). */
  sync?(now: number): void;
  /** A stanza starts waiting for an unmetered bearer. */
  onHeld?(cls: StanzaClass): void;
  /** A stanza was refused: the budget is spent (the host writes the audit line). */
  onRefused?(el: XmlElement, cls: StanzaClass): void;
  /** An urgent stanza crosses a spent budget. */
  onUrgent?(el: XmlElement): void;
}

interface Entry {
  s: ScheduledStanza;
  seq: number;
  alive: boolean;
}

/** The FIFO of one class as its inner scheduler holds it (head = its next take()). */
class Lane {
  entries: Entry[] = [];
  head = 0;
  constructor(readonly cls: StanzaClass, readonly q: OutboundScheduler) {}
  first(): Entry | undefined {
    while (this.head < this.entries.length && !this.entries[this.head].alive) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return this.entries[this.head];
  }
}

export class MeteredScheduler implements OutboundScheduler {
  private readonly lanes: Lane[];
  private readonly byId = new Map<bigint, Entry>();
  private seq = 0;
  private out: RefusedStanza[] = [];

  constructor(private readonly o: MeteredSchedulerOptions) {
    this.lanes = STANZA_CLASSES.map((c) => new Lane(c, o.make(c)));
  }

  get length(): number {
    let n = 0;
    for (const l of this.lanes) n += l.q.length;
    return n;
  }

  /** Stanzas waiting now because the bearer does not carry their class. */
  held(): number {
    const now = this.o.wall();
    let n = 0;
    for (const l of this.lanes) if (this.o.meter.decide(l.cls, true, now) === 'hold') n += l.q.length;
    return n;
  }

  push(s: ScheduledStanza): { superseded: bigint[] } {
    const now = this.o.wall();
    this.o.sync?.(now);
    const lane = this.lane(stanzaClass(s.el));
    const d = this.decide(lane.cls, s.el, now);
    if (d === 'refuse') {
      this.refuse(s, lane.cls);
      return { superseded: [] };
    }
    const r = lane.q.push(s);
    for (const id of r.superseded) this.drop(id);
    const e: Entry = { s, seq: this.seq++, alive: true };
    lane.entries.push(e);
    this.byId.set(s.id, e);
    if (d === 'hold') this.o.onHeld?.(lane.cls);
    return r;
  }

  take(): TakenStanzas | undefined {
    const now = this.o.wall();
    this.o.sync?.(now);
    for (;;) {
      let best: { lane: Lane; e: Entry } | undefined;
      let refused = false;
      for (const lane of this.lanes) {
        const e = lane.first();
        if (!e) continue;
        const d = this.decide(lane.cls, e.s.el, now);
        if (d === 'hold') continue;
        if (d === 'refuse') {
          const t = lane.q.take();
          for (const id of t?.ids ?? []) {
            const r = this.byId.get(id);
            if (r) this.refuse(r.s, lane.cls);
            this.drop(id);
          }
          refused = true;
          break;
        }
        const better = !best || (e.s.priority === 'high' && best.e.s.priority === 'low') || (e.s.priority === best.e.s.priority && e.seq < best.e.seq);
        if (better) best = { lane, e };
      }
      if (refused) continue;
      if (!best) return undefined;
      const t = best.lane.q.take();
      if (!t) return undefined;
      for (const id of t.ids) this.drop(id);
      if (this.o.meter.spentNow(now)) this.o.onUrgent?.(t.el);
      return t;
    }
  }

  expireOlderThan(now: number, ageMs: number): ScheduledStanza[] {
    const out = this.lanes.flatMap((l) => l.q.expireOlderThan(now, ageMs));
    for (const s of out) this.drop(s.id);
    return out.sort((a, b) => a.acceptedAt - b.acceptedAt);
  }

  /** Stanzas refused since the last call; the outbox bounces them and forgets them in the spool. */
  refused(): RefusedStanza[] {
    const r = this.out;
    this.out = [];
    return r;
  }

  private decide(cls: StanzaClass, el: XmlElement, now: number) {
    const d = this.o.meter.decide(cls, false, now);
    return d === 'refuse' && this.o.isUrgent(el) ? 'send' : d;
  }

  private refuse(s: ScheduledStanza, cls: StanzaClass): void {
    const snap = this.o.meter.snapshot(this.o.wall());
    const budget = snap.budgetBytes === undefined ? '' : ` of ${Math.round(snap.budgetBytes / 1e6)} MB`;
    // RFC 6120 §8.3.3.18: the relay lacks the resource (the day's budget) to carry it now.
    this.out.push({ stanza: s, reason: 'metered_budget', error: new StanzaError('resource-constraint', `the daily budget${budget} of metered bearer ${snap.bearer} is spent; only urgent stanzas cross until 00:00 UTC`) });
    this.o.onRefused?.(s.el, cls);
  }

  private drop(id: bigint): void {
    const e = this.byId.get(id);
    if (!e) return;
    e.alive = false;
    this.byId.delete(id);
  }

  private lane(cls: StanzaClass): Lane {
    return this.lanes.find((l) => l.cls === cls)!;
  }
}

/**
 * The last hour of each link, for the status page: a ring buffer of samples
 * (one every `intervalMs`, `capacity` of them) taken from the link's status
 * and its byte and retransmit counters. Rates are per second over the
 * interval between two samples. Sans-IO: the caller passes `now`.
 */

/** What the relay reads from one link at a sample. Counters are totals since start. */
export interface LinkReading {
  name: string;
  up: boolean;
  rttMs?: number;
  queued: number;
  spooled?: number;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
}

export interface LinkSample {
  /** ms since epoch */
  t: number;
  up: boolean;
  rttMs?: number;
  queued: number;
  spooled?: number;
  /** bytes per second put on / taken from the bearer since the previous sample */
  txBps: number;
  rxBps: number;
  /** retransmissions since the previous sample */
  retransmits: number;
}

export const SAMPLE_INTERVAL_MS = 10_000;

export class LinkHistory {
  private readonly rings = new Map<string, LinkSample[]>();
  private readonly last = new Map<string, { t: number; sent: number; received: number; retransmits: number }>();

  constructor(
    readonly capacity = 360,
    readonly intervalMs = SAMPLE_INTERVAL_MS,
  ) {}

  /** Adds one sample per link. A first reading only sets the counters' base (rates need two). */
  record(now: number, readings: LinkReading[]): void {
    for (const r of readings) {
      const prev = this.last.get(r.name);
      this.last.set(r.name, { t: now, sent: r.bytesSent, received: r.bytesReceived, retransmits: r.retransmits });
      const ring = this.rings.get(r.name) ?? [];
      this.rings.set(r.name, ring);
      const dt = prev ? (now - prev.t) / 1000 : 0;
      // A counter that went down (a link rebuilt) restarts from zero rather than going negative.
      const delta = (cur: number, old: number | undefined): number => (old === undefined || cur < old ? 0 : cur - old);
      ring.push({
        t: now,
        up: r.up,
        rttMs: r.rttMs,
        queued: r.queued,
        spooled: r.spooled,
        txBps: dt > 0 ? delta(r.bytesSent, prev?.sent) / dt : 0,
        rxBps: dt > 0 ? delta(r.bytesReceived, prev?.received) / dt : 0,
        retransmits: delta(r.retransmits, prev?.retransmits),
      });
      if (ring.length > this.capacity) ring.splice(0, ring.length - this.capacity);
    }
  }

  /** The samples of one link, oldest first (at most `capacity`). */
  samples(name: string): readonly LinkSample[] {
    return this.rings.get(name) ?? [];
  }
}

/** The latest problems, newest first; a problem that stays the same is listed once (for the status page). */
export class RecentErrors {
  private readonly list: Array<{ at: string; where: string; text: string }> = [];
  private readonly current = new Map<string, string>();
  constructor(readonly capacity = 10) {}

  /** Notes the problem of `where` (a link, local delivery) unless it is the one already noted for it. */
  note(at: Date, where: string, text: string | undefined): void {
    if (!text || this.current.get(where) === text) return;
    this.current.set(where, text);
    this.list.unshift({ at: at.toISOString(), where, text });
    this.list.length = Math.min(this.list.length, this.capacity);
  }

  all(): ReadonlyArray<{ at: string; where: string; text: string }> {
    return this.list;
  }
}

/**
 * The endpoint's timers by name (quinn-proto's TimerTable): each is a deadline
 * or unset; pollTimeout() is the earliest, handleTimeout(now) acts on those
 * expired, in the order of TIMERS. Sans-IO: the driver owns the one real timer.
 */

/**
 * ack: an ACK must go (acks.ts); msgAck: owed MSGACKs must go (ledger.ts);
 * rto: the retransmission timeout (recovery.ts); keepalive: an idle PING;
 * probe: an outage probe (outage.ts); silence: a silence PING (silence.ts); idle: the partner silent for
 * linkDownAfterS, the link is down; data: the pacer or coalescing wait ends.
 */
export const TIMERS = ['ack', 'msgAck', 'rto', 'keepalive', 'probe', 'silence', 'idle', 'data'] as const;
export type TimerName = (typeof TIMERS)[number];

export class TimerTable {
  private readonly at = new Map<TimerName, number>();

  /** Arms `name` at `time`; undefined (or a time that is not finite) disarms it. */
  set(name: TimerName, time: number | undefined): void {
    if (time === undefined || !Number.isFinite(time)) this.at.delete(name);
    else this.at.set(name, time);
  }

  get(name: TimerName): number | undefined { return this.at.get(name); }

  stop(name: TimerName): void { this.at.delete(name); }

  /** The earliest deadline armed. */
  next(): number | undefined {
    let t: number | undefined;
    for (const v of this.at.values()) if (t === undefined || v < t) t = v;
    return t;
  }

  /** Timers due at `now`, in TIMERS order. */
  expired(now: number): TimerName[] {
    return TIMERS.filter((n) => { const t = this.at.get(n); return t !== undefined && t <= now; });
  }

  /** Every armed timer (for logs and tests). */
  snapshot(): Partial<Record<TimerName, number>> { return Object.fromEntries(this.at); }
}

/**
 * Which bearer a link sends on, sans-IO: times come in as `now` (the owner's
 * Clock, simulated in tests), frames heard and sent on each bearer come in as
 * calls, and out come the bearer to use, the probes due and the next deadline.
 *
 * Bearers are in order of preference (0 = the primary). A bearer is up while
 * an authentic frame was heard on it within its downAfterMs (its profile's
 * link_down_after_s); at start each is presumed up for that long. The link
 * sends on the best bearer that is up:
 *  - failover: the current bearer is declared down -> the best other bearer
 *    that is not down (none: it stays, and the probes go on);
 *  - failback: a better bearer has been heard continuously for holdDownMs
 *    (failback_hold_s) while the current one works -> back to it.
 * Probes: each bearer that carried nothing of ours for its probeMs gets a
 * bearer probe (an empty authenticated frame the partner takes and does not
 * answer). The partner probes the same way, so each end hears every working
 * bearer at least once per probeMs; a bearer carrying traffic needs none.
 */

export interface BearerSpec {
  /** Name in logs, metrics and status ("1:starlink-maritime"). */
  name: string;
  /** Declared down after this long without an authentic frame on it, ms. */
  downAfterMs: number;
  /** A probe when nothing of ours went on it for this long, ms. */
  probeMs: number;
}

export interface BearerChange {
  kind: 'failover' | 'failback';
  from: number;
  to: number;
  /** Why, in words an operator understands. */
  cause: string;
}

/** A bearer's state changed (declared down, or heard again after it was down). */
export interface BearerTransition {
  bearer: number;
  up: boolean;
}

interface State {
  lastHeard: number;
  /** Heard continuously since (undefined: not heard since it was last down, or never). */
  heardSince: number | undefined;
  down: boolean;
  lastSent: number;
}

export class BearerSelector {
  private cur = 0;
  private readonly st: State[];
  private readonly transitions: BearerTransition[] = [];

  constructor(private readonly specs: readonly BearerSpec[], private readonly holdDownMs: number, now: number) {
    if (specs.length === 0) throw new Error('a link needs at least one bearer');
    this.st = specs.map(() => ({ lastHeard: now, heardSince: undefined, down: false, lastSent: -Infinity }));
  }

  get current(): number {
    return this.cur;
  }

  get count(): number {
    return this.specs.length;
  }

  isUp(i: number): boolean {
    return !this.st[i].down;
  }

  /** An authentic frame arrived on bearer i. */
  heard(i: number, now: number): void {
    const s = this.st[i];
    s.lastHeard = Math.max(s.lastHeard, now);
    if (s.down) {
      s.down = false;
      this.transitions.push({ bearer: i, up: true });
    }
    s.heardSince ??= now;
  }

  /** A frame of ours went out on bearer i (data, ACK, keepalive or probe). */
  sent(i: number, now: number): void {
    this.st[i].lastSent = Math.max(this.st[i].lastSent, now);
  }

  /** Bearers declared down or heard again since the last call (for logs and metrics). */
  takeTransitions(): BearerTransition[] {
    return this.transitions.splice(0);
  }

  /** Declares bearers down whose time ran out; returns the switch to make now, if any (the owner then sends on `to`). */
  poll(now: number): BearerChange | undefined {
    this.st.forEach((s, i) => {
      if (!s.down && now >= s.lastHeard + this.specs[i].downAfterMs) {
        s.down = true;
        s.heardSince = undefined;
        this.transitions.push({ bearer: i, up: false });
      }
    });
    const cur = this.cur;
    const secs = (ms: number) => Math.round(ms / 100) / 10;
    if (this.st[cur].down) {
      const to = this.st.findIndex((s, i) => i !== cur && !s.down);
      if (to < 0) return undefined;
      const cause = `bearer ${this.specs[cur].name} down: nothing heard on it for ${secs(now - this.st[cur].lastHeard)} s (down after ${secs(this.specs[cur].downAfterMs)} s: failover_after_s or link_down_after_s)`;
      return this.switchTo(to, cause);
    }
    for (let j = 0; j < cur; j++) {
      const s = this.st[j];
      if (!s.down && s.heardSince !== undefined && now >= s.heardSince + this.holdDownMs) {
        return this.switchTo(j, `bearer ${this.specs[j].name} up again for ${secs(now - s.heardSince)} s (failback_hold_s ${secs(this.holdDownMs)})`);
      }
    }
    return undefined;
  }

  private switchTo(to: number, cause: string): BearerChange {
    const from = this.cur;
    this.cur = to;
    // The new bearer owes the partner nothing yet: what it carries now counts as sent from here.
    return { kind: to > from ? 'failover' : 'failback', from, to, cause };
  }

  /** Bearers whose probe is due at `now` (each is then counted as sent). */
  probesDue(now: number): number[] {
    const due: number[] = [];
    this.st.forEach((s, i) => {
      // the same sums as nextDeadline(): a deadline reached is always acted on
      if (now >= s.lastSent + this.specs[i].probeMs) {
        s.lastSent = now;
        due.push(i);
      }
    });
    return due;
  }

  /** When poll() or probesDue() next has something to do. */
  nextDeadline(): number {
    let at = Infinity;
    this.st.forEach((s, i) => {
      if (!s.down) at = Math.min(at, s.lastHeard + this.specs[i].downAfterMs);
      at = Math.min(at, s.lastSent + this.specs[i].probeMs);
      if (i < this.cur && !s.down && s.heardSince !== undefined) at = Math.min(at, s.heardSince + this.holdDownMs);
    });
    return at;
  }
}

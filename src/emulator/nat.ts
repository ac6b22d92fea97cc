/**
 * A NAT in front of one side of the emulated bearer (RFC 4787 terms:
 * endpoint-independent mapping, outbound refresh only, REQ-6). The other
 * side sees the NATed side at a mapping (a source port, numbered 0, 1, 2 ...)
 * that changes when the NAT rebinds: at given times, every `rebind_every_s`,
 * or when the mapping expired (`timeout_s` without an outbound packet, like a
 * carrier-grade NAT's UDP timer) and the side sends again. A datagram for the
 * NATed side passes only if it is addressed to the live mapping when it
 * arrives at the NAT (the NAT sits at the NATed side's end of the bearer).
 * Datagrams only: streams (TCP, serial) are not translated here.
 */
import { EmulatorError } from './errors.ts';

export interface NatParams {
  /** The side behind the NAT: its source port, as the other side sees it, changes. */
  side: 'a' | 'b';
  /** A new mapping every this many seconds of engine time. */
  rebind_every_s?: number;
  /** A new mapping at these engine times, s. */
  rebind_at_s?: number[];
  /** A mapping expires this long after the NATed side last sent through it, s (absent: never). */
  timeout_s?: number;
}

export class NatBox {
  private mapping = 0;
  /** Scheduled rebinds already applied. */
  private applied = 0;
  private lastOut = -Infinity;
  /** Rebinds so far (scheduled, injected, and after an expiry). */
  rebinds = 0;

  constructor(readonly p: NatParams) {}

  /** The NATed side sends at `now`: the mapping the packet leaves with (a new one after a rebind or an expiry). */
  outbound(now: number): number {
    const before = this.mapping;
    this.schedule(now);
    // An expired mapping is replaced by a new one (one, if a rebind already made it).
    if (this.mapping === before && this.expired(now) && this.lastOut > -Infinity) this.next();
    this.lastOut = now;
    return this.mapping;
  }

  /** A datagram addressed to mapping `to` reaches the NAT at `now`: whether it passes. */
  inbound(now: number, to: number): boolean {
    this.schedule(now);
    return to === this.mapping && !this.expired(now);
  }

  /** The mapping now (without sending): where a partner that follows would address. */
  current(now: number): number {
    this.schedule(now);
    return this.mapping;
  }

  /** A rebind now (runtime fault). */
  rebind(): void {
    this.next();
  }

  private expired(now: number): boolean {
    const t = this.p.timeout_s;
    return t !== undefined && now - this.lastOut > t * 1000;
  }

  private next(): void {
    this.mapping++;
    this.rebinds++;
  }

  private schedule(now: number): void {
    const due = scheduledBy(this.p, now);
    if (due > this.applied) {
      // Several rebinds while the side was silent: one new mapping, each rebind counted.
      this.rebinds += due - this.applied - 1;
      this.applied = due;
      this.next();
    }
  }
}

/** Scheduled rebinds at or before `now` (ms). */
function scheduledBy(p: NatParams, now: number): number {
  let n = 0;
  if (p.rebind_every_s !== undefined) n += Math.max(0, Math.floor(now / (p.rebind_every_s * 1000)));
  for (const at of p.rebind_at_s ?? []) if (at * 1000 <= now) n++;
  return n;
}

/** Throws EmulatorError EMU_BAD_PARAMS naming the first bad field. */
export function validateNat(n: unknown): void {
  const bad = (field: string, why: string): never => {
    throw new EmulatorError('EMU_BAD_PARAMS', `bearer.nat${field}: ${why}`);
  };
  if (typeof n !== 'object' || n === null) bad('', 'must be an object');
  const p = n as NatParams;
  if (p.side !== 'a' && p.side !== 'b') bad('.side', `must be 'a' or 'b', got ${JSON.stringify(p.side)}`);
  const pos = (v: unknown, field: string): void => {
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) bad(field, `must be a number > 0, got ${JSON.stringify(v)}`);
  };
  pos(p.rebind_every_s, '.rebind_every_s');
  pos(p.timeout_s, '.timeout_s');
  if (p.rebind_at_s !== undefined) {
    if (!Array.isArray(p.rebind_at_s)) bad('.rebind_at_s', 'must be a list of times, s');
    p.rebind_at_s.forEach((t, i) => {
      if (!(typeof t === 'number' && Number.isFinite(t) && t >= 0)) bad(`.rebind_at_s[${i}]`, `must be a number >= 0, got ${JSON.stringify(t)}`);
    });
  }
}

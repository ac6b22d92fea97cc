/**
 * The metered-bearer meter, sans-IO (every call takes `now`, wall ms): what
 * each bearer has cost today, and whether a stanza class may go on the
 * current bearer now.
 *
 * In: the current bearer and its metered settings (setBearer; null settings:
 * not metered), bytes counted on a bearer (sent: both directions, as the
 * carrier bills them). Out: decide(class, urgent) -> 'send' | 'hold' |
 * 'refuse', and a snapshot for status and metrics.
 *  - not metered: send;
 *  - metered, class not in `carry`: hold (wait for an unmetered bearer);
 *  - metered, budget of the UTC day spent: send if urgent, else refuse;
 *  - otherwise send.
 * The day's spend per bearer is given back by spend() for the host to keep
 * on disk, and taken by restore() at start: a restart within the day does not
 * reset it; a new UTC day does.
 */
import { BYTES_PER_MB, type MeteredConfig, type StanzaClass } from '../../config/metered.ts';
import type { MeteredStatus } from '../port.ts';

export type MeterDecision = 'send' | 'hold' | 'refuse';
export type MeteredSettings = Pick<MeteredConfig, 'cost_per_mb' | 'daily_budget_mb' | 'carry' | 'currency'>;

/** What is kept across restarts: the UTC day and the bytes counted on each bearer that day. */
export interface MeterSpend {
  day: string;
  bytes: Record<string, number>;
}

/** What status shows of a bearer (port.ts MeteredStatus without the scheduler's part). */
export type MeterSnapshot = Omit<MeteredStatus, 'held'> & { carry?: readonly StanzaClass[] };

/** The UTC date of a wall-clock time. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

export class BearerMeter {
  private bearer = '';
  /** The bearer in use. */
  get current(): string {
    return this.bearer;
  }
  private settings: MeteredSettings | null = null;
  /** Settings of every bearer seen, for costs of bytes counted on one that is no longer current. */
  private readonly known = new Map<string, MeteredSettings>();
  private day = '';
  private bytes = new Map<string, number>();
  /** Grows with every change worth saving (the host compares it with what it saved). */
  version = 0;

  /** The current bearer, or its metered settings, changed. True when what may go changed (held stanzas may move). */
  setBearer(bearer: string, settings: MeteredSettings | null, now: number): boolean {
    this.roll(now);
    const before = this.fingerprint();
    this.bearer = bearer;
    this.settings = settings;
    if (settings) this.known.set(bearer, settings);
    else this.known.delete(bearer);
    return before !== this.fingerprint();
  }

  /** Bytes crossed `bearer` (either way). Counted only on a metered bearer. */
  sent(bearer: string, bytes: number, now: number): void {
    this.roll(now);
    if (bytes <= 0 || !this.known.has(bearer)) return;
    this.bytes.set(bearer, (this.bytes.get(bearer) ?? 0) + bytes);
    this.version++;
  }

  decide(cls: StanzaClass, urgent: boolean, now: number): MeterDecision {
    const s = this.settings;
    if (!s) return 'send';
    if (!s.carry.includes(cls)) return 'hold';
    if (this.spentNow(now) && !urgent) return 'refuse';
    return 'send';
  }

  /** The day's budget of the current bearer is used up. */
  spentNow(now: number): boolean {
    this.roll(now);
    const s = this.settings;
    return s !== null && (this.bytes.get(this.bearer) ?? 0) >= s.daily_budget_mb * BYTES_PER_MB;
  }

  snapshot(now: number): MeterSnapshot {
    this.roll(now);
    return this.snapshotOf(this.bearer, now);
  }

  /** The figures of one bearer (current or not). */
  snapshotOf(bearer: string, now: number): MeterSnapshot {
    this.roll(now);
    const s = bearer === this.bearer ? this.settings : (this.known.get(bearer) ?? null);
    const bytesToday = this.bytes.get(bearer) ?? 0;
    if (!s) return { bearer, metered: false, day: this.day, bytesToday, costToday: 0, currency: '', spent: false };
    const budgetBytes = s.daily_budget_mb * BYTES_PER_MB;
    return {
      bearer,
      metered: true,
      day: this.day,
      bytesToday,
      costToday: (bytesToday / BYTES_PER_MB) * s.cost_per_mb,
      currency: s.currency,
      budgetBytes,
      remainingBytes: Math.max(0, budgetBytes - bytesToday),
      spent: bytesToday >= budgetBytes,
      carry: s.carry,
    };
  }

  /** Bearers with bytes counted today, and every metered one. */
  bearers(): string[] {
    return [...new Set([...this.known.keys(), ...this.bytes.keys()])];
  }

  /** What to keep on disk. */
  spend(now: number): MeterSpend {
    this.roll(now);
    return { day: this.day, bytes: Object.fromEntries(this.bytes) };
  }

  /** Takes back what was kept: the same UTC day's counts are added; an older day's are dropped. */
  restore(saved: MeterSpend | undefined, now: number): void {
    this.roll(now);
    if (!saved || saved.day !== this.day) return;
    for (const [b, n] of Object.entries(saved.bytes)) {
      if (Number.isFinite(n) && n > 0) this.bytes.set(b, (this.bytes.get(b) ?? 0) + n);
    }
    this.version++;
  }

  /** A new UTC day: every bearer's count starts again. */
  private roll(now: number): void {
    const d = utcDay(now);
    if (d === this.day) return;
    this.day = d;
    this.bytes = new Map();
    this.version++;
  }

  private fingerprint(): string {
    return JSON.stringify([this.bearer, this.settings]);
  }
}

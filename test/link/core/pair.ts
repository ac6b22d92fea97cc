/**
 * Simulated-time pair harness (quinn tests/util.rs `Pair` style): two
 * LinkEndpoints joined by a seeded bearer model per direction. Time jumps to
 * the next frame arrival or timer, so an hour-long outage runs in milliseconds.
 * Each side models the durable store around the endpoint: an outbox of
 * submitted-but-unacked stanzas (the spool), a set of stored inbound ids and
 * the link's session numbers (link-state file: this run's, the partner's).
 * Exported for reuse by other tests (drivers, spool, bench).
 */
import { createHash } from 'node:crypto';
import { LinkEndpoint, type LinkEvent, type LinkOptions, type LinkTuning, type SessionState } from '../../../src/link/core/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { meterCore, type CoreMetrics } from '../../../src/link/constrained/core-metrics.ts';

import { rng } from '../drivers/rng.ts';
export { rng };

export function seededBytes(r: () => number): (n: number) => Buffer {
  return (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256); return b; };
}

export interface BearerModel {
  latencyMs: number;
  rateBps?: number;         // serialisation delay; frames queue behind each other
  loss?: number;            // Bernoulli loss
  burst?: { pEnter: number; pLeave: number; lossInBurst: number }; // Gilbert-Elliott
  dup?: number;
  reorder?: number;         // probability of an extra random delay up to reorderMs
  reorderMs?: number;
  bitFlip?: number;         // probability a frame gets one bit flipped
  outages?: Array<[number, number]>; // [start, end) ms: everything sent inside is lost
  mtu?: number;             // frames above are dropped by the bearer
}

export interface BearerStats { sent: number; lost: number; duplicated: number; flipped: number; flippedDelivered: number; delivered: number; bytes: number }

class Bearer {
  queue: Array<{ at: number; frame: Buffer; n: number; flipped: boolean }> = [];
  private busyUntil = 0;
  private bad = false;
  private n = 0;
  readonly stats: BearerStats = { sent: 0, lost: 0, duplicated: 0, flipped: 0, flippedDelivered: 0, delivered: 0, bytes: 0 };
  constructor(public model: BearerModel, private readonly r: () => number) {}

  send(now: number, frame: Buffer): void {
    const m = this.model;
    this.stats.sent++;
    this.stats.bytes += frame.length;
    const start = Math.max(now, this.busyUntil);
    const txMs = m.rateBps ? (frame.length * 8 * 1000) / m.rateBps : 0;
    this.busyUntil = start + txMs;
    if (m.mtu && frame.length > m.mtu) { this.stats.lost++; return; }
    if (m.outages?.some(([a, b]) => now >= a && now < b)) { this.stats.lost++; return; }
    if (m.burst) {
      if (this.bad ? this.r() < m.burst.pLeave : this.r() < m.burst.pEnter) this.bad = !this.bad;
      if (this.bad && this.r() < m.burst.lossInBurst) { this.stats.lost++; return; }
    }
    if (m.loss && this.r() < m.loss) { this.stats.lost++; return; }
    let f = frame;
    if (m.bitFlip && this.r() < m.bitFlip) {
      f = Buffer.from(frame);
      const bit = Math.floor(this.r() * f.length * 8);
      f[bit >> 3] ^= 1 << (bit & 7);
      this.stats.flipped++;
    }
    const copies = m.dup && this.r() < m.dup ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let c = 0; c < copies; c++) {
      let at = this.busyUntil + m.latencyMs;
      if (m.reorder && this.r() < m.reorder) at += this.r() * (m.reorderMs ?? m.latencyMs);
      if (c === 1) at += this.r() * m.latencyMs;
      this.queue.push({ at, frame: f, n: this.n++, flipped: f !== frame });
    }
    this.queue.sort((x, y) => x.at - y.at || x.n - y.n);
  }
}

export interface SideOptions { role: 'a' | 'b'; domains: string[] }

/** One relay around an endpoint: the spool (outbox) and the inbound store. */
export class Side {
  ep!: LinkEndpoint;
  readonly outbox = new Map<bigint, { stanza: Buffer; priority: 'high' | 'low' }>();
  nextId = 1n;
  /** Inbound ids durably stored, and the stanzas in delivery order. */
  readonly stored = new Set<bigint>();
  readonly received: Array<{ id: bigint; stanza: Buffer; at: number }> = [];
  readonly duplicates: bigint[] = [];
  readonly events: LinkEvent[] = [];
  ackedIds: bigint[] = [];
  restarts = 0;
  /** When false, deliveries are stored but not confirmed (a crash before fsync). */
  autoConfirm = true;
  /** The durable session record (`session` events update it; a restart takes the next local session). */
  readonly sessions: SessionState;
  /** The host's metrics, from the endpoint's stats() as a relay keeps them (core-metrics.ts). */
  readonly metrics = new Metrics();
  private readonly meter: CoreMetrics;
  constructor(readonly name: 'a' | 'b', readonly makeOpts: (resume?: LinkOptions['resume'], session?: SessionState) => LinkOptions, private readonly clock: () => number) {
    this.sessions = { local: name === 'a' ? 100 : 200, peer: 0, peerV2: false };
    this.ep = new LinkEndpoint(makeOpts(undefined, { ...this.sessions }), clock());
    this.meter = meterCore(this.metrics, '', () => this.ep.stats());
  }

  submit(stanza: Buffer | string, priority: 'high' | 'low' = 'high'): bigint {
    const id = this.nextId++;
    const b = Buffer.isBuffer(stanza) ? stanza : Buffer.from(stanza);
    this.outbox.set(id, { stanza: b, priority });
    this.ep.submit(id, b, priority, this.clock());
    return id;
  }

  /** Crash and restart: a new endpoint from the durable state only. */
  restart(now: number): void {
    this.restarts++;
    const ids = [...this.stored].sort((x, y) => (x < y ? -1 : 1));
    let upTo = 0n;
    for (const id of ids) { if (id === upTo + 1n) upTo = id; else break; }
    const above = ids.filter((id) => id > upTo);
    this.sessions.previous = this.sessions.local++;
    this.meter.rebase(this.ep.stats());
    this.ep = new LinkEndpoint(this.makeOpts({ nextSendId: this.nextId, deliveredUpTo: upTo, delivered: above }, { ...this.sessions }), now);
    for (const [id, m] of [...this.outbox].sort((x, y) => (x[0] < y[0] ? -1 : 1))) this.ep.submit(id, m.stanza, m.priority, now);
  }

  drainEvents(now: number): void {
    for (let ev = this.ep.pollEvent(); ev; ev = this.ep.pollEvent()) {
      this.events.push(ev);
      if (ev.type === 'deliver') {
        if (this.stored.has(ev.id)) this.duplicates.push(ev.id);
        this.stored.add(ev.id);
        this.received.push({ id: ev.id, stanza: ev.stanza, at: now });
        if (this.autoConfirm) this.ep.confirmDelivered(ev.id, now);
      } else if (ev.type === 'acked') {
        this.outbox.delete(ev.id);
        this.ackedIds.push(ev.id);
      } else if (ev.type === 'session') {
        this.sessions.peer = ev.peer;
        this.sessions.peerV2 = ev.peerV2;
      }
    }
  }
}

export const DEFAULT_TUNING: LinkTuning = {
  mtu: 508, rateBps: 64_000, rttEstimateMs: 600, rtoMinMs: 300, rtoMaxMs: 60_000,
  ackDelayMs: 50, keepaliveS: 30, compressionLevel: 6, maxStanzaBytes: 256 * 1024,
};

export interface PairOptions {
  seed: number;
  tuning?: Partial<LinkTuning>;
  ab?: BearerModel;    // bearer a -> b
  ba?: BearerModel;    // bearer b -> a (default: same as ab)
  key?: Buffer;
}

export class Pair {
  now = 0;
  readonly a: Side;
  readonly b: Side;
  readonly ab: Bearer;
  readonly ba: Bearer;
  readonly seed: number;
  readonly tuning: LinkTuning;
  steps = 0;
  /** Called with every frame the bearer delivers, before the endpoint gets it (recording for replays). */
  readonly taps: Array<(to: Side, frame: Buffer, now: number) => void> = [];

  constructor(o: PairOptions) {
    this.seed = o.seed;
    const r = rng(o.seed);
    const key = o.key ?? createHash('sha256').update(`pair-${o.seed}`).digest();
    this.tuning = { ...DEFAULT_TUNING, ...o.tuning };
    const model = o.ab ?? { latencyMs: 300 };
    this.ab = new Bearer(model, rng(o.seed ^ 0x1111));
    this.ba = new Bearer(o.ba ?? { ...model }, rng(o.seed ^ 0x2222));
    const rand = seededBytes(r);
    const mk = (role: 'a' | 'b') => (resume?: LinkOptions['resume'], session?: SessionState): LinkOptions => ({
      tuning: this.tuning, key, role, random: rand, resume, session,
      localDomains: role === 'a' ? ['a.example', 'muc.a.example'] : ['b.example'],
      remoteDomains: role === 'a' ? ['b.example'] : ['a.example', 'muc.a.example'],
    });
    this.a = new Side('a', mk('a'), () => this.now);
    this.b = new Side('b', mk('b'), () => this.now);
  }

  /** Handles everything due at `now`; true when something happened. */
  step(): boolean {
    this.steps++;
    let busy = false;
    for (const [side, bearer] of [[this.a, this.ab], [this.b, this.ba]] as const) {
      const to = side.ep.pollTimeout();
      if (to !== undefined && to <= this.now) { side.ep.handleTimeout(this.now); busy = true; }
      for (let f = side.ep.pollTransmit(this.now); f; f = side.ep.pollTransmit(this.now)) { bearer.send(this.now, f); busy = true; }
    }
    for (const [dst, bearer] of [[this.b, this.ab], [this.a, this.ba]] as const) {
      while (bearer.queue.length && bearer.queue[0].at <= this.now) {
        const { frame, flipped } = bearer.queue.shift()!;
        bearer.stats.delivered++;
        if (flipped) bearer.stats.flippedDelivered++;
        for (const tap of this.taps) tap(dst, frame, this.now);
        dst.ep.handleFrame(this.now, frame);
        busy = true;
      }
    }
    this.a.drainEvents(this.now);
    this.b.drainEvents(this.now);
    return busy;
  }

  /** Earliest pending frame arrival or timer. */
  nextEventTime(): number | undefined {
    const ts = [this.ab.queue[0]?.at, this.ba.queue[0]?.at, this.a.ep.pollTimeout(), this.b.ep.pollTimeout()]
      .filter((t): t is number => t !== undefined);
    return ts.length ? Math.min(...ts) : undefined;
  }

  /** Steps until `pred` holds; time jumps to the next event. Returns whether pred held by `maxMs`. */
  driveUntil(pred: () => boolean, maxMs = 3_600_000): boolean {
    const end = this.now + maxMs;
    for (let guard = 0; guard < 5_000_000; guard++) {
      for (let i = 0; this.step(); i++) if (i > 100_000) throw new Error(`livelock at t=${this.now} (seed ${this.seed})`);
      if (pred()) return true;
      const t = this.nextEventTime();
      if (t === undefined || t > end) { this.now = end; return pred(); }
      this.now = Math.max(this.now, t);
    }
    throw new Error(`driveUntil: no progress (seed ${this.seed})`);
  }

  /** Drives for `ms` of simulated time. */
  drive(ms: number): void { this.driveUntil(() => false, ms); }

  /** Everything submitted on both sides delivered and acknowledged. */
  idle(): boolean { return this.a.outbox.size === 0 && this.b.outbox.size === 0; }
}

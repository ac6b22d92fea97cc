/**
 * Simulated-time pair harness (quinn tests/util.rs `Pair` style): two
 * LinkEndpoints joined by the bearer emulator's engine (src/emulator, seeded),
 * one per direction unless a shared bearer (half duplex, a profile's) is given.
 * Time jumps to the next frame arrival or timer, so an hour-long outage runs in
 * milliseconds. Each side models the durable store around the endpoint: an
 * outbox of submitted-but-unacked stanzas (the spool), a set of stored inbound
 * ids and the link's session numbers (link-state file: this run's, the
 * partner's). Exported for reuse by other tests (drivers, spool, bench).
 */
import { createHash } from 'node:crypto';
import { LinkEndpoint, type LinkEvent, type LinkOptions, type LinkTuning, type SessionState } from '../../../src/link/core/index.ts';
import { LinkEmulator, Rng, emptyDirStats, type BearerParams, type Direction, type DirStats } from '../../../src/emulator/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { meterCore, type CoreMetrics } from '../../../src/link/constrained/core-metrics.ts';

/** The emulator's seeded PRNG as a function giving floats in [0, 1). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

export function seededBytes(r: () => number): (n: number) => Buffer {
  return (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256); return b; };
}

/** One direction of the bearer in test terms (ms, probabilities), turned into the emulator's BearerParams. */
export interface BearerModel {
  latencyMs: number;
  jitterMs?: number;
  rateBps?: number;         // serialisation delay; frames queue behind each other (absent: none to speak of)
  loss?: number;            // Bernoulli loss
  burst?: { pEnter: number; pLeave: number; lossInBurst: number }; // Gilbert-Elliott
  dup?: number;
  reorder?: number;         // probability a frame is held back (the emulator's reorder)
  ber?: number;             // bit error rate: each delivered bit flips with this probability
  outages?: Array<[number, number]>; // [start, end) ms: a frame on the line then is lost
  mtu?: number;             // frames above are dropped by the bearer
}

export function bearerParams(m: BearerModel): BearerParams {
  const loss: BearerParams['loss'] = m.burst
    ? { model: 'gilbert_elliott', p_gb: m.burst.pEnter, p_bg: m.burst.pLeave, loss_good: m.loss ?? 0, loss_bad: m.burst.lossInBurst }
    : m.loss ? { model: 'bernoulli', p: m.loss } : undefined;
  return {
    rate_bps: m.rateBps ?? 1e12, delay_ms: m.latencyMs, jitter_ms: m.jitterMs, loss, ber: m.ber, duplicate: m.dup, reorder: m.reorder, mtu: m.mtu,
    queue_bytes: m.rateBps ? undefined : 1e12,
    outages: m.outages?.map(([a, b]) => ({ start_s: a / 1000, duration_s: (b - a) / 1000 })),
  };
}

/**
 * One direction of the bearer: the emulator it sends on, and those it sent on
 * before setModel() (their frames in flight still arrive).
 */
export class Bearer {
  private readonly emus: LinkEmulator[];
  constructor(readonly dir: Direction, emu: LinkEmulator, private readonly seed: number) { this.emus = [emu]; }

  get emu(): LinkEmulator { return this.emus[this.emus.length - 1]; }
  all(): readonly LinkEmulator[] { return this.emus; }
  send(now: number, frame: Buffer): void { this.emu.send(now, this.dir, frame); }
  /** New conditions from now on (latency, loss, ...), for this direction. */
  setModel(m: BearerModel): void { this.emus.push(new LinkEmulator(bearerParams(m), this.seed + this.emus.length)); }
  /** The bearer (both directions when shared) dark over [startMs, startMs + durationMs). */
  outage(startMs: number, durationMs: number): void { this.emu.addOutage(startMs, durationMs); }

  /** This direction's emulator counters, over every emulator it used. */
  get stats(): DirStats {
    const sum = emptyDirStats();
    for (const e of this.emus) {
      for (const k of Object.keys(sum) as Array<keyof DirStats>) sum[k] = k === 'latency_ms_max' ? Math.max(sum[k], e.stats[this.dir][k]) : sum[k] + e.stats[this.dir][k];
    }
    return sum;
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
  /** One emulated bearer for both directions (a profile's, half duplex included); instead of ab/ba. */
  bearer?: BearerParams;
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
  /** Called with every frame the bearer delivers, before the endpoint gets it (recording for replays); false: the frame is kept from it. */
  readonly taps: Array<(to: Side, frame: Buffer, now: number) => boolean | void> = [];

  constructor(o: PairOptions) {
    this.seed = o.seed;
    const r = rng(o.seed);
    const key = o.key ?? createHash('sha256').update(`pair-${o.seed}`).digest();
    this.tuning = { ...DEFAULT_TUNING, ...o.tuning };
    if (o.bearer) {
      const shared = new LinkEmulator(o.bearer, o.seed);
      this.ab = new Bearer('ab', shared, o.seed);
      this.ba = new Bearer('ba', shared, o.seed);
    } else {
      const model = o.ab ?? { latencyMs: 300 };
      this.ab = new Bearer('ab', new LinkEmulator(bearerParams(model), o.seed ^ 0x1111), o.seed ^ 0x1111);
      this.ba = new Bearer('ba', new LinkEmulator(bearerParams(o.ba ?? model), o.seed ^ 0x2222), o.seed ^ 0x2222);
    }
    const rand = seededBytes(r);
    const mk = (role: 'a' | 'b') => (resume?: LinkOptions['resume'], session?: SessionState): LinkOptions => ({
      tuning: this.tuning, key, role, random: rand, resume, session,
      localDomains: role === 'a' ? ['a.example', 'muc.a.example'] : ['b.example'],
      remoteDomains: role === 'a' ? ['b.example'] : ['a.example', 'muc.a.example'],
    });
    this.a = new Side('a', mk('a'), () => this.now);
    this.b = new Side('b', mk('b'), () => this.now);
  }

  /** Every emulator in use (one when the bearer is shared). */
  private emulators(): LinkEmulator[] { return [...new Set([...this.ab.all(), ...this.ba.all()])]; }

  /** Handles everything due at `now`; true when something happened. */
  step(): boolean {
    this.steps++;
    let busy = false;
    for (const [side, bearer] of [[this.a, this.ab], [this.b, this.ba]] as const) {
      const to = side.ep.pollTimeout();
      if (to !== undefined && to <= this.now) { side.ep.handleTimeout(this.now); busy = true; }
      for (let f = side.ep.pollTransmit(this.now); f; f = side.ep.pollTransmit(this.now)) { bearer.send(this.now, f); busy = true; }
    }
    for (const emu of this.emulators()) {
      for (const d of emu.poll(this.now)) {
        const dst = d.dir === 'ab' ? this.b : this.a;
        busy = true;
        if (this.taps.map((tap) => tap(dst, d.data, this.now)).includes(false)) continue;
        dst.ep.handleFrame(this.now, d.data);
      }
    }
    this.a.drainEvents(this.now);
    this.b.drainEvents(this.now);
    return busy;
  }

  /** Earliest pending frame arrival or timer. */
  nextEventTime(): number | undefined {
    const ts = [...this.emulators().map((e) => e.nextTimeout()), this.a.ep.pollTimeout(), this.b.ep.pollTimeout()]
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

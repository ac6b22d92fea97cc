/**
 * Sans-IO link emulator: a bearer between side A and side B.
 *
 * No sockets, no clock, no Math.random: the caller passes `now` (ms since any
 * fixed epoch, non-decreasing; an earlier value is treated as the latest seen)
 * and a seed. Same seed + same calls = same outputs.
 *
 * Model, per packet (datagram) or chunk (stream):
 *  1. queue: a direction is a FIFO in front of its line; datagrams over `mtu`
 *     or over the drop-tail limit `queue_bytes` are dropped on arrival.
 *  2. line: transmission starts when the line is free and lasts
 *     (bytes + overhead_bytes) * 8 / rate_bps. Half duplex shares one line
 *     between both directions and adds `turnaround_ms` of silence whenever the
 *     direction changes.
 *  3. outages: a datagram whose transmission overlaps an outage window is lost
 *     (the line time is spent anyway); a stream chunk waits until the window ends.
 *  4. loss (datagrams only): Bernoulli or Gilbert-Elliott per packet.
 *  5. propagation: arrives delay_ms + uniform(-jitter_ms, +jitter_ms) after its
 *     last bit, never before an earlier packet of its direction unless it was
 *     picked for reordering (prob. `reorder`, datagrams only), which holds it
 *     back by an extra max(2 x its line time, jitter_ms, delay_ms / 2).
 *  6. bit errors: each delivered bit flips with probability `ber`.
 *  7. duplication (datagrams only): with prob. `duplicate` a second copy
 *     arrives with the first (own bit errors, no extra line time).
 *  8. NAT (datagrams only, `nat`: nat.ts): packets from the NATed side carry
 *     the mapping (source port) they left with; packets for it must be
 *     addressed (`to`) to the mapping live when they arrive, else dropped.
 * Streams (TCP, serial) never lose, duplicate or reorder bytes: they are cut
 * into chunks of about 50 ms of line time and only bit errors and outages touch
 * them. Their queue is not limited here: drivers apply back-pressure with
 * `queuedBytes()` (a TCP window, serial flow control).
 */
import { EmulatorError } from './errors.ts';
import { NatBox, type NatParams } from './nat.ts';
import { validateParams } from './validate.ts';

export { validateParams };
import { Rng } from './rng.ts';

export type LossModel =
  | { model: 'bernoulli'; p: number }
  | { model: 'gilbert_elliott'; p_gb: number; p_bg: number; loss_good?: number; loss_bad?: number };

export type Outage = { start_s: number; duration_s: number } | { every_s: number; duration_s: number; offset_s?: number };

export interface BearerParams {
  rate_bps: number;
  delay_ms: number;
  jitter_ms?: number;
  loss?: LossModel;
  ber?: number;
  mtu?: number;
  duplex?: 'full' | 'half';
  turnaround_ms?: number;
  duplicate?: number;
  reorder?: number;
  /** Windows in seconds of engine time (a driver's time 0 is its start). */
  outages?: Outage[];
  /** Drop-tail limit per direction, datagrams only (default: 4 s of rate, at least 3 x mtu). */
  queue_bytes?: number;
  /** Bytes of framing charged on the line per packet/chunk (IP+UDP = 28, IP+TCP = 40); default 0. */
  overhead_bytes?: number;
  /** The carrier NAT's UDP mapping timeout, s (a profile figure; the emulator applies it only through `nat`). */
  nat_timeout_s?: number;
  /** A NAT in front of one side (nat.ts); absent: addresses never change. */
  nat?: NatParams;
}

export type Direction = 'ab' | 'ba';
export type SendKind = 'datagram' | 'stream';

export interface DirStats {
  /** send() calls (datagrams or stream writes). */
  sent: number;
  /** packets or stream chunks handed out by poll(), duplicates included. */
  delivered: number;
  dropped_loss: number;
  dropped_mtu: number;
  dropped_queue: number;
  dropped_outage: number;
  /** packets for the NATed side addressed to a mapping that was no longer live when they arrived. */
  dropped_nat: number;
  /** delivered packets/chunks with at least one flipped bit. */
  corrupted_packets: number;
  bits_flipped: number;
  duplicated: number;
  /** delivered after a packet that was sent later in the same direction. */
  reordered: number;
  bytes_sent: number;
  bytes_delivered: number;
  /** line time spent transmitting this direction's data. */
  busy_ms: number;
  /** stream chunks held back by an outage. */
  delayed_outage: number;
  /** sum and max over deliveries of (arrival - send time): queueing + line + propagation. */
  latency_ms_sum: number;
  latency_ms_max: number;
}

export interface Delivery {
  dir: Direction;
  data: Buffer;
  /** arrival time, ms, same clock as `now`. */
  at: number;
  /** caller's tag given to send(), if any (e.g. a connection id). */
  tag?: number;
  /** From the NATed side: the mapping (source port number) the other side sees it at. */
  mapping?: number;
}

interface Pending extends Delivery {
  order: number; // tie-break: insertion order
  sendSeq: number; // per-direction send sequence, for reorder counting
  sentAt: number;
  /** For the NATed side: the mapping it was addressed to. */
  to?: number;
}

interface Line {
  freeAt: number;
  lastDir: Direction | undefined;
}

export const DIRECTIONS: readonly Direction[] = ['ab', 'ba'];

export function emptyDirStats(): DirStats {
  return {
    sent: 0, delivered: 0, dropped_loss: 0, dropped_mtu: 0, dropped_queue: 0, dropped_outage: 0, dropped_nat: 0,
    corrupted_packets: 0, bits_flipped: 0, duplicated: 0, reordered: 0, bytes_sent: 0,
    bytes_delivered: 0, busy_ms: 0, delayed_outage: 0, latency_ms_sum: 0, latency_ms_max: 0,
  };
}

export class LinkEmulator {
  readonly params: Readonly<BearerParams>;
  readonly stats: { ab: DirStats; ba: DirStats } = { ab: emptyDirStats(), ba: emptyDirStats() };
  /** Resolved drop-tail limit per direction (datagrams). */
  readonly queueLimit: number;
  /** Stream chunk size in bytes. */
  readonly chunkBytes: number;

  private readonly rng: Rng;
  private readonly lines: Record<Direction, Line>;
  private readonly heap: Pending[] = [];
  private order = 0;
  private lastNow = -Infinity;
  private geBad = false;
  private readonly sendSeq: Record<Direction, number> = { ab: 0, ba: 0 };
  private readonly maxDeliveredSeq: Record<Direction, number> = { ab: -1, ba: -1 };
  private readonly lastArrival: Record<Direction, number> = { ab: -Infinity, ba: -Infinity };
  /** Transmissions not finished yet, per direction: [end time, bytes]. */
  private readonly inQueue: Record<Direction, Array<[number, number]>> = { ab: [], ba: [] };
  private readonly inQueueBytes: Record<Direction, number> = { ab: 0, ba: 0 };
  /** Bytes accepted but not yet handed out by poll(), per direction. */
  private readonly undelivered: Record<Direction, number> = { ab: 0, ba: 0 };
  /** Outage windows added at run time (ms, engine time), on top of params.outages. */
  private readonly extraOutages: Array<{ start: number; end: number }> = [];
  /** Loss model set at run time; undefined: the profile's. */
  private lossOverride: LossModel | undefined;
  private lossOverridden = false;
  private readonly nat: NatBox | undefined;
  /** The direction out of the NATed side. */
  private readonly natOut: Direction | undefined;

  constructor(params: BearerParams, seed: number) {
    validateParams(params);
    this.params = structuredClone(params);
    this.rng = new Rng(seed);
    this.nat = params.nat ? new NatBox(params.nat) : undefined;
    this.natOut = params.nat ? (params.nat.side === 'a' ? 'ab' : 'ba') : undefined;
    const mtu = params.mtu ?? 1500;
    this.queueLimit = params.queue_bytes ?? Math.max(Math.ceil((params.rate_bps / 8) * 4), 3 * mtu);
    this.chunkBytes = Math.max(1, Math.min(params.mtu ?? 1024, 1024, Math.floor((params.rate_bps / 8) * 0.05)));
    if (params.duplex === 'half') {
      const shared: Line = { freeAt: -Infinity, lastDir: undefined };
      this.lines = { ab: shared, ba: shared };
    } else {
      this.lines = { ab: { freeAt: -Infinity, lastDir: undefined }, ba: { freeAt: -Infinity, lastDir: undefined } };
    }
  }

  /**
   * Offers bytes to the line in direction `dir` at time `now`.
   * datagram: one packet, dropped or corrupted whole. stream: cut into chunks, lossless.
   * `to`: for the NATed side, the mapping the sender addressed (default: the live one now).
   */
  send(now: number, dir: Direction, data: Buffer, kind: SendKind = 'datagram', tag?: number, to?: number): void {
    now = this.clock(now);
    if (dir !== 'ab' && dir !== 'ba') throw new EmulatorError('EMU_BAD_ARGS', `direction must be 'ab' or 'ba', got ${String(dir)}`);
    const st = this.stats[dir];
    st.sent++;
    st.bytes_sent += data.length;
    if (kind === 'stream') {
      for (let off = 0; off < data.length; off += this.chunkBytes) {
        this.sendStreamChunk(now, dir, Buffer.from(data.subarray(off, off + this.chunkBytes)), tag);
      }
      return;
    }
    if (this.params.mtu !== undefined && data.length > this.params.mtu) {
      st.dropped_mtu++;
      return;
    }
    const nat = this.natStamp(now, dir, to);
    this.expireQueue(now, dir);
    if (this.inQueueBytes[dir] + data.length > this.queueLimit) {
      st.dropped_queue++;
      return;
    }
    const { start, end } = this.occupyLine(now, dir, data.length);
    this.inQueue[dir].push([end, data.length]);
    this.inQueueBytes[dir] += data.length;
    if (this.outageEnd(start, end) !== undefined) {
      st.dropped_outage++;
      return;
    }
    if (this.lost()) {
      st.dropped_loss++;
      return;
    }
    const seq = this.sendSeq[dir]++;
    let at = end + this.params.delay_ms + this.jitter();
    if (this.rng.chance(this.params.reorder ?? 0)) {
      at += Math.max(2 * (end - start), this.params.jitter_ms ?? 0, this.params.delay_ms / 2);
    } else {
      at = Math.max(at, this.lastArrival[dir]);
      this.lastArrival[dir] = at;
    }
    this.push({ dir, data: Buffer.from(data), at, tag, order: 0, sendSeq: seq, sentAt: now, ...nat });
    if (this.rng.chance(this.params.duplicate ?? 0)) {
      st.duplicated++;
      this.push({ dir, data: Buffer.from(data), at, tag, order: 0, sendSeq: seq, sentAt: now, ...nat });
    }
  }

  /** Everything that has arrived at or before `now`, in arrival order. */
  poll(now: number): Delivery[] {
    now = this.clock(now);
    const out: Delivery[] = [];
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const p = this.pop();
      const st = this.stats[p.dir];
      if (p.to !== undefined && !this.nat!.inbound(p.at, p.to)) {
        st.dropped_nat++;
        this.undelivered[p.dir] -= p.data.length;
        continue;
      }
      const flips = this.corrupt(p.data);
      if (flips > 0) {
        st.corrupted_packets++;
        st.bits_flipped += flips;
      }
      if (p.sendSeq < this.maxDeliveredSeq[p.dir]) st.reordered++;
      else this.maxDeliveredSeq[p.dir] = p.sendSeq;
      st.delivered++;
      st.bytes_delivered += p.data.length;
      st.latency_ms_sum += p.at - p.sentAt;
      st.latency_ms_max = Math.max(st.latency_ms_max, p.at - p.sentAt);
      this.undelivered[p.dir] -= p.data.length;
      const d: Delivery = { dir: p.dir, data: p.data, at: p.at };
      if (p.tag !== undefined) d.tag = p.tag;
      if (p.mapping !== undefined) d.mapping = p.mapping;
      out.push(d);
    }
    return out;
  }

  /** Time of the next delivery, or undefined when nothing is in flight. */
  nextTimeout(): number | undefined {
    return this.heap.length > 0 ? this.heap[0].at : undefined;
  }

  /** Bytes accepted in `dir` and not yet handed out by poll() (for back-pressure). */
  queuedBytes(dir: Direction): number {
    return this.undelivered[dir];
  }

  /** True when nothing is queued or in flight in either direction. */
  idle(): boolean {
    return this.heap.length === 0;
  }

  /**
   * Runtime fault: an outage of both directions from `start` (ms, engine
   * time) for `durationMs`, on top of the profile's windows (same effect:
   * datagrams lost, stream chunks held).
   */
  addOutage(start: number, durationMs: number): void {
    if (!Number.isFinite(start) || !Number.isFinite(durationMs) || durationMs < 0) {
      throw new EmulatorError('EMU_BAD_ARGS', `outage needs a finite start and duration >= 0, got ${start}, ${durationMs}`);
    }
    const now = this.lastNow === -Infinity ? start : this.lastNow;
    // Forget windows that are over (keeps the list short on long runs).
    for (let i = this.extraOutages.length - 1; i >= 0; i--) if (this.extraOutages[i].end < now) this.extraOutages.splice(i, 1);
    this.extraOutages.push({ start, end: start + durationMs });
  }

  /** Runtime fault: the NAT gives the NATed side a new mapping now (EMU_BAD_ARGS without `nat`). */
  rebind(): void {
    if (!this.nat) throw new EmulatorError('EMU_BAD_ARGS', 'rebind needs a NAT (bearer.nat)');
    this.nat.rebind();
  }

  /** The NATed side's live mapping at `now` and the rebinds so far; undefined without `nat`. */
  natState(now: number): { mapping: number; rebinds: number } | undefined {
    return this.nat && { mapping: this.nat.current(this.clock(now)), rebinds: this.nat.rebinds };
  }

  /** The NAT's part of a datagram: the mapping it leaves with (from the NATed side) or is addressed to (to it). */
  private natStamp(now: number, dir: Direction, to: number | undefined): { mapping?: number; to?: number } {
    if (!this.nat) return {};
    return dir === this.natOut ? { mapping: this.nat.outbound(now) } : { to: to ?? this.nat.current(now) };
  }

  /**
   * Runtime fault: replaces the loss model (e.g. a burst of heavy loss);
   * `undefined` goes back to the profile's model. A model given as null means
   * no loss at all.
   */
  setLoss(loss: LossModel | null | undefined): void {
    if (loss === undefined) {
      this.lossOverridden = false;
      this.lossOverride = undefined;
      return;
    }
    if (loss !== null) validateParams({ rate_bps: 1, delay_ms: 0, loss });
    this.lossOverridden = true;
    this.lossOverride = loss ?? undefined;
    this.geBad = false;
  }

  private sendStreamChunk(now: number, dir: Direction, chunk: Buffer, tag: number | undefined): void {
    let { start, end } = this.occupyLine(now, dir, chunk.length);
    // Outage: hold the chunk until the window ends (the line waits with it).
    let wait = this.outageEnd(start, end);
    if (wait !== undefined) {
      this.stats[dir].delayed_outage++;
      const dur = end - start;
      for (let guard = 0; wait !== undefined && guard < 1_000_000; guard++) {
        start = wait;
        end = start + dur;
        wait = this.outageEnd(start, end);
      }
      this.lines[dir].freeAt = end;
    }
    const at = Math.max(end + this.params.delay_ms + this.jitter(), this.lastArrival[dir]);
    this.lastArrival[dir] = at;
    this.push({ dir, data: chunk, at, tag, order: 0, sendSeq: this.sendSeq[dir]++, sentAt: now });
  }

  /** Reserves the line for `bytes`; returns the transmission interval. */
  private occupyLine(now: number, dir: Direction, bytes: number): { start: number; end: number } {
    const line = this.lines[dir];
    let start = Math.max(now, line.freeAt);
    if (this.params.duplex === 'half' && line.lastDir !== undefined && line.lastDir !== dir) {
      start = Math.max(now, line.freeAt + (this.params.turnaround_ms ?? 0));
    }
    const dur = ((bytes + (this.params.overhead_bytes ?? 0)) * 8 * 1000) / this.params.rate_bps;
    const end = start + dur;
    line.freeAt = end;
    line.lastDir = dir;
    this.stats[dir].busy_ms += dur;
    return { start, end };
  }

  private expireQueue(now: number, dir: Direction): void {
    const q = this.inQueue[dir];
    let i = 0;
    while (i < q.length && q[i][0] <= now) this.inQueueBytes[dir] -= q[i++][1];
    if (i > 0) q.splice(0, i);
  }

  /** End (ms) of the earliest outage window overlapping [start, end), if any. */
  private outageEnd(start: number, end: number): number | undefined {
    let found: number | undefined;
    for (const o of this.params.outages ?? []) {
      const dur = o.duration_s * 1000;
      let wStart: number;
      if ('every_s' in o) {
        const every = o.every_s * 1000;
        const off = (o.offset_s ?? 0) * 1000;
        let k = Math.max(0, Math.floor((start - off) / every));
        if (off + k * every + dur <= start) k++; // the window before `start` is over: try the next
        wStart = off + k * every;
      } else {
        wStart = o.start_s * 1000;
      }
      const wEnd = wStart + dur;
      const overlaps = end > start ? start < wEnd && end > wStart : start >= wStart && start < wEnd;
      if (overlaps && (found === undefined || wEnd < found)) found = wEnd;
    }
    for (const w of this.extraOutages) {
      const overlaps = end > start ? start < w.end && end > w.start : start >= w.start && start < w.end;
      if (overlaps && (found === undefined || w.end < found)) found = w.end;
    }
    return found;
  }

  private lost(): boolean {
    const loss = this.lossOverridden ? this.lossOverride : this.params.loss;
    if (!loss) return false;
    if (loss.model === 'bernoulli') return this.rng.chance(loss.p);
    // Gilbert-Elliott: step the two-state chain, then lose with the new state's probability.
    this.geBad = this.geBad ? !this.rng.chance(loss.p_bg) : this.rng.chance(loss.p_gb);
    return this.rng.chance(this.geBad ? (loss.loss_bad ?? 1) : (loss.loss_good ?? 0));
  }

  private jitter(): number {
    const j = this.params.jitter_ms ?? 0;
    if (j <= 0) return 0;
    return Math.max(-this.params.delay_ms, this.rng.uniform(-j, j));
  }

  /** Flips each bit with probability ber (geometric gaps between errors); returns the count. */
  private corrupt(data: Buffer): number {
    const ber = this.params.ber ?? 0;
    if (ber <= 0 || data.length === 0) return 0;
    const bits = data.length * 8;
    let flips = 0;
    for (let pos = this.rng.geometric(ber); pos < bits; pos += 1 + this.rng.geometric(ber)) {
      data[pos >> 3] ^= 0x80 >> (pos & 7);
      flips++;
    }
    return flips;
  }

  private clock(now: number): number {
    if (typeof now !== 'number' || Number.isNaN(now)) throw new EmulatorError('EMU_BAD_ARGS', `now must be a number, got ${String(now)}`);
    if (now < this.lastNow) return this.lastNow;
    this.lastNow = now;
    return now;
  }

  // Binary min-heap on (at, order).
  private push(p: Pending): void {
    p.order = this.order++;
    this.undelivered[p.dir] += p.data.length;
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  private pop(): Pending {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Pending, b: Pending): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

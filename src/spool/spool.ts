/**
 * Durable spool (lmdb): outbound stanzas per link until the partner acks them,
 * inbound stanzas per link until handed to the local S2S side.
 *
 * Durability: the environment is opened with noSync off and overlappingSync
 * off, so a write promise resolves only after LMDB's commit has fsynced.
 * Every multi-record change runs in one lmdb `transaction` (atomic).
 *
 * Keys (binary, ordered):  utf8(link) 0x00 u64be(id)
 * Stores:  out   key -> { s: stanza, m: OutboundMeta }
 *          in    key -> { s: stanza, m?: InboundMeta }
 *          state 'seq\0'+link -> last id handed out (ids are never reused)
 *                'dut\0'+link -> { d: deliveredUpTo, a: [ids above it] }
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { Metrics } from '../obs/metrics.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { statfsSync } from 'node:fs';
import { SpoolClosedError, SpoolDiskFullError, SpoolError, SpoolFullError } from './errors.ts';
import { guardLmdbCommitRejections, isDiskFull } from './lmdb-guard.ts';

export type Priority = 'high' | 'low';

export interface OutboundMeta {
  priority: Priority;
  from?: string;
  to?: string;
  /** Wall-clock ms (Date.now()) when the stanza was accepted. */
  acceptedAt: number;
  extra?: Uint8Array;
}

export interface SpoolEntry<M> {
  id: bigint;
  stanza: Buffer;
  meta: M;
}

/** Inbound metadata is opaque to the spool (whatever the link core passed along). */
export type InboundMeta = Uint8Array | undefined;

export interface SpoolOptions {
  /** Limit on the total outbound bytes (stanza bytes) across all links. */
  maxBytes: number;
  /** Limit on the total number of outbound stanzas across all links. */
  maxStanzas: number;
  metrics?: Metrics;
  logger?: Logger;
  /**
   * Labels on this spool's own gauges and error counters (e.g. { link: 'ship1' }
   * when each link has its own spool), so that spools sharing one Metrics keep
   * separate series. Default none.
   */
  labels?: Record<string, string>;
}

export interface SpoolStats {
  outboundCount: number;
  outboundBytes: number;
  /** Age of the oldest outbound stanza (0 when empty), relative to `now`. */
  oldestAgeMs: number;
  inboundCount: number;
}

interface OutRecord { s: Buffer; m: OutboundMeta }
interface InRecord { s: Buffer; m?: Uint8Array }
/** A link message: the spooled stanzas it carries and its exact bytes (ids as decimal strings). */
interface GroupRecord { ids: string[]; s: Buffer; p: Priority }

export interface SpoolGroup { gid: bigint; ids: bigint[]; stanza: Buffer; priority: Priority }
/** Stored as decimal strings (msgpack has no portable bigint). */
interface InState { d: string; a: string[] }

interface LinkState {
  lastId: bigint;
  lastGid: bigint;
  outCount: number;
  outBytes: number;
  /** acceptedAt of each live outbound id (for oldestAgeMs). */
  acceptedAt: Map<bigint, number>;
  outSizes: Map<bigint, number>;
  deliveredUpTo: bigint;
  /** Ids received above deliveredUpTo (a gap below them). */
  above: Set<bigint>;
  inIds: Set<bigint>;
}

const U64_MAX = (1n << 64n) - 1n;
/** Below this much free space on its disk the spool refuses writes itself (see checkSpace). */
const MIN_FREE_BYTES = 1 << 20;

function keyOf(link: string, id: bigint): Buffer {
  if (id < 0n || id > U64_MAX) throw new SpoolError('SPOOL_BAD_ID', `id out of range: ${id}`);
  const name = Buffer.from(link, 'utf8');
  const k = Buffer.alloc(name.length + 9);
  name.copy(k, 0);
  k[name.length] = 0;
  k.writeBigUInt64BE(id, name.length + 1);
  return k;
}

function idOf(key: Buffer): bigint {
  return key.readBigUInt64BE(key.length - 8);
}

function rangeOf(link: string): { start: Buffer; end: Buffer } {
  return { start: keyOf(link, 0n), end: Buffer.concat([Buffer.from(link, 'utf8'), Buffer.from([1])]) };
}

function checkLink(link: string): void {
  if (link.length === 0 || link.includes('\0')) throw new SpoolError('SPOOL_BAD_LINK', `bad link name: ${JSON.stringify(link)}`);
}

export class Spool {
  private closed = false;
  /** Newest rest per inbound record whose keepInbound write is under way. */
  private readonly keeping = new Map<string, Buffer>();
  private links = new Map<string, LinkState>();
  private totalCount = 0;
  private totalBytes = 0;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly labels: Record<string, string>;


  private constructor(
    private readonly env: RootDatabase,
    private readonly out: Database<OutRecord, Buffer>,
    private readonly inb: Database<InRecord, Buffer>,
    private readonly state: Database<unknown, string>,
    private readonly grp: Database<GroupRecord, Buffer>,
    private readonly opts: SpoolOptions,
    /** The environment's directory (its free space tells a full disk). */
    private readonly dir: string,
  ) {
    this.metrics = opts.metrics ?? new Metrics();
    this.labels = opts.labels ?? {};
    this.log = opts.logger ?? silentLogger;
  }

  /** Opens (creating if needed) the spool in directory `dir`. */
  static open(dir: string, opts: SpoolOptions): Spool {
    if (!(opts.maxBytes > 0) || !(opts.maxStanzas > 0)) throw new SpoolError('SPOOL_BAD_OPTIONS', 'maxBytes and maxStanzas must be > 0');
    guardLmdbCommitRejections(); // a full disk must refuse writes, not crash the process
    // eventTurnBatching off: with it, a failed commit (a full disk) also rejects an
    // internal batch promise nobody holds, an unhandled rejection (see lmdb-guard.ts).
    const env = open({ path: dir, noSubdir: false /* a directory, even named "a.link" */, noSync: false, overlappingSync: false, noMetaSync: false, maxDbs: 8, eventTurnBatching: false });
    const out = env.openDB<OutRecord, Buffer>('out', { keyEncoding: 'binary' });
    const inb = env.openDB<InRecord, Buffer>('in', { keyEncoding: 'binary' });
    const state = env.openDB<unknown, string>('state', {});
    const grp = env.openDB<GroupRecord, Buffer>('groups', { keyEncoding: 'binary' });
    const sp = new Spool(env, out, inb, state, grp, opts, dir);
    sp.load();
    return sp;
  }

  private load(): void {
    for (const { key, value } of this.out.getRange({})) {
      const link = key.subarray(0, key.length - 9).toString('utf8');
      const st = this.link(link);
      const id = idOf(key);
      st.outCount++;
      st.outBytes += value.s.length;
      st.outSizes.set(id, value.s.length);
      st.acceptedAt.set(id, value.m.acceptedAt);
      if (id > st.lastId) st.lastId = id;
      this.totalCount++;
      this.totalBytes += value.s.length;
    }
    for (const { key } of this.inb.getRange({})) {
      const link = key.subarray(0, key.length - 9).toString('utf8');
      this.link(link).inIds.add(idOf(key));
    }
    this.log.info({ ...this.labels, outbound: this.totalCount, bytes: this.totalBytes }, 'spool opened');
    this.setGauges();
  }

  /** In-memory state for a link, loaded from `state` on first use. */
  private link(link: string): LinkState {
    let st = this.links.get(link);
    if (!st) {
      const seq = this.state.get(`seq\0${link}`) as string | undefined;
      const gseq = this.state.get(`gseq\0${link}`) as string | undefined;
      const ins = this.state.get(`dut\0${link}`) as InState | undefined;
      st = {
        lastId: seq === undefined ? 0n : BigInt(seq),
        lastGid: gseq === undefined ? 0n : BigInt(gseq),
        outCount: 0,
        outBytes: 0,
        acceptedAt: new Map(),
        outSizes: new Map(),
        deliveredUpTo: ins ? BigInt(ins.d) : 0n,
        above: new Set((ins?.a ?? []).map((a) => BigInt(a))),
        inIds: new Set(),
      };
      this.links.set(link, st);
    }
    return st;
  }

  private ensureOpen(): void {
    if (this.closed) throw new SpoolClosedError();
  }

  // ---- outbound ----

  /**
   * Stores a stanza for `link` and returns its id (strictly increasing per
   * link, never reused). Resolves once the commit is on disk. Throws
   * SpoolFullError (nothing stored) when the limits would be exceeded.
   */
  async accept(link: string, stanza: Buffer, meta: OutboundMeta): Promise<bigint> {
    this.ensureOpen();
    checkLink(link);
    this.checkSpace('accept');
    if (this.totalCount + 1 > this.opts.maxStanzas || this.totalBytes + stanza.length > this.opts.maxBytes) {
      this.metrics.inc('spool_full_total', { link });
      throw new SpoolFullError(this.totalCount, this.totalBytes, stanza.length);
    }
    const st = this.link(link);
    const id = st.lastId + 1n;
    st.lastId = id;
    // Reserve synchronously so concurrent accepts see the limits and the order.
    st.outCount++;
    st.outBytes += stanza.length;
    st.outSizes.set(id, stanza.length);
    st.acceptedAt.set(id, meta.acceptedAt);
    this.totalCount++;
    this.totalBytes += stanza.length;
    const rec: OutRecord = { s: Buffer.from(stanza), m: { ...meta } };
    const key = keyOf(link, id);
    try {
      await this.env.transaction(() => {
        this.out.put(key, rec);
        this.state.put(`seq\0${link}`, id.toString());
      });
    } catch (err) {
      this.forgetOut(st, id);
      this.log.error({ err, link }, 'spool accept commit failed');
      throw await this.commitFailed('accept', err);
    }
    this.metrics.inc('spool_accepted_total', { link });
    this.setGauges();
    return id;
  }

  private forgetOut(st: LinkState, id: bigint): boolean {
    const size = st.outSizes.get(id);
    if (size === undefined) return false;
    st.outSizes.delete(id);
    st.acceptedAt.delete(id);
    st.outCount--;
    st.outBytes -= size;
    this.totalCount--;
    this.totalBytes -= size;
    return true;
  }

  /** Removes an acknowledged stanza. Unknown ids are ignored (ack is idempotent). */
  async ack(link: string, id: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!this.forgetOut(st, id)) {
      this.metrics.inc('spool_ack_unknown_total', { link });
      return;
    }
    await this.durably('ack', () => this.out.remove(keyOf(link, id)));
    this.metrics.inc('spool_acked_total', { link });
    this.setGauges();
  }

  /**
   * Records, durably and in one commit, which spooled stanzas travel together
   * as one link message and its exact bytes, giving each message a group id
   * (strictly increasing per link). After a crash the same messages go out
   * again with the same ids, so the receiver recognises what it already has.
   */
  async assignGroups(link: string, groups: Array<{ ids: bigint[]; stanza: Buffer; priority: Priority }>): Promise<bigint[]> {
    this.ensureOpen();
    this.checkSpace('assign');
    const st = this.link(link);
    const firstGid = st.lastGid;
    const gids = groups.map(() => ++st.lastGid);
    try {
      await this.env.transaction(() => {
        groups.forEach((g, i) => this.grp.put(keyOf(link, gids[i]), { ids: g.ids.map(String), s: Buffer.from(g.stanza), p: g.priority }));
        this.state.put(`gseq\0${link}`, st.lastGid.toString());
      });
    } catch (err) {
      // Not recorded: give the ids back (message ids must stay contiguous on the link), unless another call took more since.
      if (st.lastGid === gids.at(-1)) st.lastGid = firstGid;
      throw await this.commitFailed('assign', err);
    }
    return gids;
  }

  /** The partner has a link message: its record and every stanza in it go, in one commit. */
  async ackGroup(link: string, gid: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    const key = keyOf(link, gid);
    const rec = this.grp.get(key);
    if (!rec) {
      this.metrics.inc('spool_ack_unknown_total', { link });
      return;
    }
    const ids = rec.ids.map((i) => BigInt(i));
    await this.durably('ack_group', async () => {
      await this.env.transaction(() => {
        this.grp.remove(key);
        for (const id of ids) this.out.remove(keyOf(link, id));
      });
      for (const id of ids) this.forgetOut(st, id);
      this.metrics.inc('spool_acked_total', { link }, ids.length);
      this.setGauges();
    });
  }

  private readonly retries = new Set<NodeJS.Timeout>();

  /** Counts a failed commit and names it: SPOOL_DISK_FULL for a full disk, else SPOOL_IO. */
  private async commitFailed(op: string, err: unknown): Promise<SpoolError> {
    this.metrics.inc('spool_errors_total', { ...this.labels, op });
    if (await isDiskFull(err, this.dir)) return new SpoolDiskFullError(op);
    return new SpoolError('SPOOL_IO', `commit failed: ${(err as Error).message}`);
  }

  private setGauges(): void {
    this.metrics.set('spool_outbound_stanzas', this.totalCount, this.labels);
    this.metrics.set('spool_outbound_bytes', this.totalBytes, this.labels);
  }

  /**
   * Refuses a write before lmdb tries it when the spool's disk is (nearly)
   * full: lmdb-js can corrupt its heap after failed page writes (seen as a
   * glibc abort in the soak), so ENOSPC must stay rare, not routine.
   */
  private checkSpace(op: string): void {
    let free: number;
    try {
      const st = statfsSync(this.dir);
      free = st.bavail * st.bsize;
    } catch {
      return; // cannot tell: let lmdb try
    }
    if (free >= MIN_FREE_BYTES) return;
    this.metrics.inc('spool_disk_full_refusals_total', { ...this.labels, op });
    throw new SpoolDiskFullError(op);
  }

  /**
   * Runs a removal commit (ack, hand-over). When it fails (a full disk) it is
   * retried every second in the background until it succeeds or the spool
   * closes, so that a later restart does not replay what was already
   * acknowledged or handed over. Never rejects.
   */
  private async durably(op: string, write: () => Promise<unknown>): Promise<void> {
    if (this.closed) return;
    try {
      await write();
    } catch (err) {
      if (this.closed) return;
      this.metrics.inc('spool_errors_total', { ...this.labels, op });
      this.log.warn({ err: (err as Error).message, op, disk_full: await isDiskFull(err, this.dir) }, 'spool write failed; retrying');
      const t = setTimeout(() => {
        this.retries.delete(t);
        void this.durably(op, write);
      }, 1000);
      t.unref();
      this.retries.add(t);
    }
  }

  /** Link messages assigned but not yet acknowledged, in group id order. */
  groups(link: string): SpoolGroup[] {
    this.ensureOpen();
    const res: SpoolGroup[] = [];
    for (const { key, value } of this.grp.getRange(rangeOf(link))) {
      res.push({ gid: idOf(key), ids: value.ids.map((i) => BigInt(i)), stanza: value.s, priority: value.p });
    }
    return res;
  }

  /** Group id the next assignGroups() will give. */
  nextGroupId(link: string): bigint {
    return this.link(link).lastGid + 1n;
  }

  /** When an unacknowledged outbound stanza was accepted (Date.now() ms), from memory; undefined if gone. */
  acceptedAt(link: string, id: bigint): number | undefined {
    this.ensureOpen();
    return this.link(link).acceptedAt.get(id);
  }

  /** One unacknowledged outbound stanza, read from disk; undefined if gone. */
  entry(link: string, id: bigint): SpoolEntry<OutboundMeta> | undefined {
    this.ensureOpen();
    if (!this.link(link).outSizes.has(id)) return undefined;
    const rec = this.out.get(keyOf(link, id));
    return rec ? { id, stanza: rec.s, meta: rec.m } : undefined;
  }

  /** All outbound stanzas still unacknowledged, in id order. */
  pending(link: string): Array<SpoolEntry<OutboundMeta>> {
    this.ensureOpen();
    const st = this.link(link);
    const res: Array<SpoolEntry<OutboundMeta>> = [];
    for (const { key, value } of this.out.getRange(rangeOf(link))) {
      const id = idOf(key);
      if (!st.outSizes.has(id)) continue; // acked, removal not yet committed
      res.push({ id, stanza: value.s, meta: value.m });
    }
    return res;
  }

  /**
   * Removes (synchronous, durable commit) and returns outbound stanzas accepted
   * more than `olderThanMs` before `now` (both Date.now() ms), to be bounced.
   */
  expire(link: string, olderThanMs: number, now: number): Array<SpoolEntry<OutboundMeta>> {
    this.ensureOpen();
    const st = this.link(link);
    const cutoff = now - olderThanMs;
    const victims = this.pending(link).filter((e) => e.meta.acceptedAt < cutoff);
    if (victims.length === 0) return victims;
    try {
      this.env.transactionSync(() => {
        for (const v of victims) this.out.removeSync(keyOf(link, v.id));
      });
    } catch (err) {
      // A full disk: nothing expired now, the next call tries again.
      this.metrics.inc('spool_errors_total', { ...this.labels, op: 'expire' });
      this.log.warn({ err: (err as Error).message, link }, 'spool expiry commit failed');
      return [];
    }
    for (const v of victims) this.forgetOut(st, v.id);
    this.metrics.inc('spool_expired_total', { link }, victims.length);
    this.setGauges();
    this.log.warn({ link, count: victims.length }, 'spool expired stanzas');
    return victims;
  }

  /** The id the next accept on `link` will get (resume.nextSendId). */
  nextId(link: string): bigint {
    this.ensureOpen();
    return this.link(link).lastId + 1n;
  }

  // ---- inbound ----

  /**
   * Stores a stanza received from the partner together with the new
   * deliveredUpTo, in one transaction. Returns false (nothing stored) for a
   * duplicate: id <= deliveredUpTo or already held above a gap.
   */
  async receive(link: string, id: bigint, stanza: Buffer, meta?: Uint8Array): Promise<boolean> {
    this.ensureOpen();
    checkLink(link);
    if (id <= 0n) throw new SpoolError('SPOOL_BAD_ID', `inbound id must be > 0: ${id}`);
    const st = this.link(link);
    if (id <= st.deliveredUpTo || st.above.has(id)) {
      this.metrics.inc('spool_inbound_duplicate_total', { link });
      return false;
    }
    this.checkSpace('receive');
    const before = { d: st.deliveredUpTo, above: new Set(st.above) };
    st.above.add(id);
    this.absorb(st);
    st.inIds.add(id);
    // Snapshot now: transactions run in call order, so state written matches this record set.
    const snap: InState = { d: st.deliveredUpTo.toString(), a: [...st.above].map(String) };
    const rec: InRecord = meta === undefined ? { s: Buffer.from(stanza) } : { s: Buffer.from(stanza), m: meta };
    const key = keyOf(link, id);
    try {
      await this.env.transaction(() => {
        this.inb.put(key, rec);
        this.state.put(`dut\0${link}`, snap);
      });
    } catch (err) {
      // Nothing stored: forget it in memory too, or a retry would be taken for a duplicate (and lost).
      st.deliveredUpTo = before.d;
      st.above = before.above;
      st.inIds.delete(id);
      this.log.error({ err, link }, 'spool receive commit failed');
      throw await this.commitFailed('receive', err);
    }
    this.metrics.inc('spool_received_total', { link });
    return true;
  }

  /** Moves contiguous ids from `above` into deliveredUpTo. */
  private absorb(st: LinkState): void {
    while (st.above.has(st.deliveredUpTo + 1n)) {
      st.deliveredUpTo++;
      st.above.delete(st.deliveredUpTo);
    }
    for (const a of st.above) if (a <= st.deliveredUpTo) st.above.delete(a);
  }

  /**
   * The partner will never send ids <= `upTo` again (its send floor moved,
   * e.g. after it expired them): treat them as delivered.
   */
  async advanceDeliveredUpTo(link: string, upTo: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (upTo <= st.deliveredUpTo) return;
    this.checkSpace('floor');
    st.deliveredUpTo = upTo;
    this.absorb(st);
    const snap: InState = { d: st.deliveredUpTo.toString(), a: [...st.above].map(String) };
    try {
      await this.state.put(`dut\0${link}`, snap);
    } catch (err) {
      throw await this.commitFailed('floor', err);
    }
  }

  /** Highest id such that every id up to it has been received (resume.deliveredUpTo). */
  deliveredUpTo(link: string): bigint {
    this.ensureOpen();
    return this.link(link).deliveredUpTo;
  }

  /**
   * Ids above deliveredUpTo already stored (ids arrive in transmit order, not
   * id order): pass as LinkEndpoint resume.delivered after a restart.
   */
  deliveredAbove(link: string): bigint[] {
    this.ensureOpen();
    return [...this.link(link).above].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  }

  /** Inbound stanzas not yet handed over to the local side, in id order. */
  inboundPending(link: string): Array<SpoolEntry<InboundMeta>> {
    this.ensureOpen();
    const st = this.link(link);
    const res: Array<SpoolEntry<InboundMeta>> = [];
    for (const { key, value } of this.inb.getRange(rangeOf(link))) {
      const id = idOf(key);
      if (!st.inIds.has(id)) continue;
      res.push({ id, stanza: value.s, meta: value.m });
    }
    return res;
  }

  /**
   * Part of a multi-stanza inbound message was handed over: keep only `rest`
   * (the stanzas still to hand over), durably, so a restart replays just those.
   */
  async keepInbound(link: string, id: bigint, rest: Buffer): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!st.inIds.has(id)) return;
    const key = keyOf(link, id);
    const k = `${link}\0${id}`;
    const first = !this.keeping.has(k);
    this.keeping.set(k, Buffer.from(rest));
    if (!first) return; // a write or retry of this record is under way: it takes the newest rest
    // Retried until stored (or handed over whole): a restart must not replay what was handed over.
    await this.durably('keep_inbound', async () => {
      for (;;) {
        const latest = this.keeping.get(k);
        if (!latest || !st.inIds.has(id)) return void this.keeping.delete(k);
        this.checkSpace('keep_inbound');
        const old = this.inb.get(key);
        await this.inb.put(key, old?.m === undefined ? { s: latest } : { s: latest, m: old.m });
        if (this.keeping.get(k) === latest) return void this.keeping.delete(k);
      }
    });
  }

  /** The stanza was handed to the local side: drop it from the inbound spool. */
  async handedOver(link: string, id: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!st.inIds.delete(id)) return;
    await this.durably('handed_over', () => this.inb.remove(keyOf(link, id)));
    this.metrics.inc('spool_handed_over_total', { link });
  }

  // ---- misc ----

  /** Counts for one link, or totals over all links. `now` is Date.now() ms. */
  stats(link?: string, now = Date.now()): SpoolStats {
    this.ensureOpen();
    const states = link === undefined ? [...this.links.values()] : [this.link(link)];
    let outboundCount = 0, outboundBytes = 0, inboundCount = 0, oldest = Infinity;
    for (const st of states) {
      outboundCount += st.outCount;
      outboundBytes += st.outBytes;
      inboundCount += st.inIds.size;
      for (const a of st.acceptedAt.values()) if (a < oldest) oldest = a;
    }
    return { outboundCount, outboundBytes, inboundCount, oldestAgeMs: oldest === Infinity ? 0 : Math.max(0, now - oldest) };
  }

  /** Waits for pending commits, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await this.env.committed;
    await this.env.flushed;
    await this.env.close();
  }
}

/**
 * The spool's store: the lmdb databases, per-link state in memory, record
 * checks and the shared write paths (retried removals, disk-space guard,
 * gauges). spool.ts builds the outbound and inbound operations on it.
 * Record layout and checksums: records.ts.
 */
import type { Database, RootDatabase } from 'lmdb';
import { statfsSync } from 'node:fs';
import { Metrics } from '../obs/metrics.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { SpoolClosedError, SpoolDiskFullError, SpoolError } from './errors.ts';
import { isDiskFull } from './lmdb-guard.ts';
import { GroupCommit } from './commit.ts';
import type { Salvaged } from './check.ts';
import {
  DAMAGED, headOfMeta, idOf, keyOf, linkOf, rangeOf, readState, sealGroup, sealIn, sealState, verifyGroup, verifyIn, verifyOut,
  type OutboundMeta, type Priority, type StanzaHead,
} from './records.ts';

/** A database of binary records (record-layout.ts; older ones are msgpack bytes, legacy-records.ts). */
export type RecordDb = Database<Buffer, Buffer>;

export interface SpoolEntry<M> {
  id: bigint;
  stanza: Buffer;
  meta: M;
}

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

export interface SpoolGroup { gid: bigint; ids: bigint[]; stanza: Buffer; priority: Priority }

/** A stanza whose stored copy failed its checksum: bounced when `head` (its addressing) is intact. */
export interface DamagedStanza {
  store: 'out' | 'in';
  id: bigint;
  head?: StanzaHead;
  /** Read from a spool set aside at open (the spool was damaged, not necessarily this stanza). */
  setAside?: boolean;
  /** Of a spool set aside: it was on the bearer before, so it may have arrived. */
  sent?: boolean;
}

/** What recover() found and repaired for a link. */
export interface Recovery {
  /** Stanzas that cannot be delivered: bounce those with a head, the rest are counted and logged. */
  damaged: DamagedStanza[];
  /** Link messages rebuilt from their intact stanzas (same id, so the partner still recognises them). */
  rebuilt: number;
  /** Link messages whose member list was damaged: their stanzas go out again as new messages. */
  regrouped: number;
}

/** Delivered-up-to state as decimal strings (state-records.ts stores it as u64s). */
export interface InState { d: string; a: string[] }

export interface LinkState {
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
  /** Inbound ids held, with their meta (null: not read yet, it is in the record). */
  inIds: Map<bigint, Uint8Array | undefined | null>;
  /** Outbound records that failed their checksum at open, with their meta when that is intact. */
  damagedOut: Map<bigint, OutboundMeta | undefined>;
  /** deliveredUpTo and above as last committed (memory goes back to it when a commit fails). */
  durableIn: InState;
  /**
   * Members of link messages recorded by assignGroups() or read by groups(),
   * so that ackGroup() need not read the record back. Only a cache: a link
   * message missing here is read from disk.
   */
  members: Map<bigint, bigint[]>;
  /** Made once per link, not per write (spool.ts). */
  seqWrite?: [string, () => void];
  onAccepted?: () => void;
  onHandedOver?: () => void;
}

/** Writes of one link in a commit, by kind. */
interface Tally { accepted: number; acked: number; received: number; handedOver: number }

/** Below this much free space on its disk the spool refuses writes itself (see checkSpace). */
const MIN_FREE_BYTES = 1 << 20;

/** Estimated bytes a record of `n` bytes takes on disk (key, lmdb node, meta, checksums). */
export const onDisk = (n: number): number => n + 256;

export abstract class SpoolStore {
  protected closed = false;
  protected links = new Map<string, LinkState>();
  protected totalCount = 0;
  protected totalBytes = 0;
  protected readonly metrics: Metrics;
  protected readonly log: Logger;
  protected readonly labels: Record<string, string>;
  /** First link message id of a link with no state yet (0, or a time-based base on a fresh spool after damage). */
  protected gidBase = 0n;
  protected readonly retries = new Set<NodeJS.Timeout>();
  /** Stanzas of a spool set aside at open, read for their bounces; recover() hands them out per link. */
  protected salvaged: Salvaged[] = [];
  private readonly reported = new Set<string>();
  /** One lmdb commit (one fsync) per event-loop turn for every write queued in it (commit.ts). */
  protected readonly commits: GroupCommit;
  /** Writes committed per link since the last commit's end, added to metrics once per commit. */
  private readonly tallies = new Map<string, Tally>();
  /** Free bytes on the spool's disk, read once per batch of writes (commits.epoch). */
  private free = { epoch: -1, bytes: 0 };

  protected constructor(
    protected readonly env: RootDatabase,
    protected readonly out: RecordDb,
    protected readonly inb: RecordDb,
    protected readonly state: Database<Buffer, string>,
    protected readonly grp: RecordDb,
    protected readonly opts: SpoolOptions,
    /** The environment's directory (its free space tells a full disk). */
    protected readonly dir: string,
  ) {
    this.metrics = opts.metrics ?? new Metrics();
    this.labels = opts.labels ?? {};
    this.log = opts.logger ?? silentLogger;
    this.commits = new GroupCommit(env, { committed: () => this.afterCommit(), failed: () => this.afterFailedCommit() });
  }

  /** Counts a committed write (added to metrics once per commit). */
  protected tally(what: keyof Tally, link: string, n = 1): void {
    let t = this.tallies.get(link);
    if (!t) this.tallies.set(link, (t = { accepted: 0, acked: 0, received: 0, handedOver: 0 }));
    t[what] += n;
  }

  private afterCommit(): void {
    this.metrics.inc('spool_commits_total', this.labels);
    for (const [link, t] of this.tallies) {
      if (t.accepted) this.metrics.inc('spool_accepted_total', { link }, t.accepted);
      if (t.acked) this.metrics.inc('spool_acked_total', { link }, t.acked);
      if (t.received) this.metrics.inc('spool_received_total', { link }, t.received);
      if (t.handedOver) this.metrics.inc('spool_handed_over_total', { link }, t.handedOver);
    }
    this.tallies.clear();
    this.setGauges();
  }

  /** Nothing of the failed batch (nor of the writes behind it) is on disk: inbound state goes back to the last commit. */
  private afterFailedCommit(): void {
    this.tallies.clear();
    for (const st of this.links.values()) {
      st.deliveredUpTo = BigInt(st.durableIn.d);
      st.above = new Set(st.durableIn.a.map((a) => BigInt(a)));
    }
  }

  /**
   * A fresh spool in place of a damaged one: the partner still remembers the
   * link message ids it has had from us, so ours restart above any id used
   * before (microseconds since 1970), or it would drop new ones as duplicates.
   */
  protected startIdsAfterDamage(): void {
    const base = BigInt(Date.now()) * 1000n;
    this.env.transactionSync(() => this.state.putSync('gbase', sealState('gbase', base.toString())));
  }

  protected load(): void {
    const base = readState(this.state, 'gbase');
    this.gidBase = typeof base === 'string' ? BigInt(base) : 0n;
    let unchecked = 0;
    for (const raw of this.out.getKeys({}) as Iterable<Buffer>) {
      const key = Buffer.from(raw);
      const link = linkOf(key);
      const st = this.link(link);
      const id = idOf(key);
      if (id > st.lastId) st.lastId = id;
      const v = verifyOut(key, this.read(this.out, key));
      if (v.stanza === 'damaged') {
        st.damagedOut.set(id, v.meta);
        this.damaged('out', link, id, headOfMeta(v.meta) !== undefined);
        continue;
      }
      if (v.stanza === 'unchecked') unchecked++;
      const size = v.bytes!.length;
      st.outCount++;
      st.outBytes += size;
      st.outSizes.set(id, size);
      st.acceptedAt.set(id, v.meta?.acceptedAt ?? Date.now());
      this.totalCount++;
      this.totalBytes += size;
    }
    for (const raw of this.inb.getKeys({}) as Iterable<Buffer>) {
      const key = Buffer.from(raw);
      this.link(linkOf(key)).inIds.set(idOf(key), null);
    }
    if (unchecked) this.log.info({ ...this.labels, records: unchecked }, 'spool records written before checksums: read unchecked');
    this.log.info({ ...this.labels, outbound: this.totalCount, bytes: this.totalBytes }, 'spool opened');
    this.setGauges();
  }

  /** A record's bytes as stored (a copy), or undefined when absent or unreadable. */
  protected read(db: RecordDb, key: Buffer): Buffer | undefined {
    try {
      const raw = db.getBinary(key);
      return raw === undefined ? undefined : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    } catch {
      return undefined;
    }
  }

  /** Counts and logs a record that failed its checksum (once per record and start). */
  protected damaged(store: 'out' | 'in' | 'groups', link: string, id: bigint, senderKnown: boolean): void {
    this.metrics.inc('spool_damaged_records_total', { ...this.labels, store });
    this.log.error({ ...this.labels, link, store, id: String(id), sender_known: senderKnown }, 'spool record damaged (checksum mismatch): its bytes are never delivered');
  }

  /** Counts and logs a record found damaged while running, once. */
  protected damagedOnce(store: 'out' | 'in' | 'groups', link: string, id: bigint): void {
    const k = `${store}\0${link}\0${id}`;
    if (this.reported.has(k)) return;
    this.reported.add(k);
    this.damaged(store, link, id, false);
  }

  /** In-memory state for a link, loaded from `state` on first use. */
  protected link(link: string): LinkState {
    let st = this.links.get(link);
    if (!st) {
      const seq = readState(this.state, `seq\0${link}`);
      const gseq = readState(this.state, `gseq\0${link}`);
      const dut = readState(this.state, `dut\0${link}`);
      const damaged = [seq, gseq, dut].some((v) => v === DAMAGED);
      const ins = dut === DAMAGED ? undefined : (dut as InState | undefined);
      if (damaged) this.log.error({ ...this.labels, link }, 'spool sequence state damaged: link message ids restart above any used before; a message the partner resends may be delivered twice');
      const deliveredUpTo = ins ? BigInt(ins.d) : 0n;
      const above = new Set((ins?.a ?? []).map((a) => BigInt(a)));
      st = {
        lastId: typeof seq === 'string' ? BigInt(seq) : 0n,
        lastGid: typeof gseq === 'string' ? BigInt(gseq) : damaged ? BigInt(Date.now()) * 1000n : this.gidBase,
        outCount: 0,
        outBytes: 0,
        acceptedAt: new Map(),
        outSizes: new Map(),
        deliveredUpTo,
        above,
        inIds: new Map(),
        damagedOut: new Map(),
        durableIn: { d: deliveredUpTo.toString(), a: [...above].map(String) },
        members: new Map(),
      };
      this.links.set(link, st);
    }
    return st;
  }

  protected ensureOpen(): void {
    if (this.closed) throw new SpoolClosedError();
  }

  /** Keys of one link in a store, copied (lmdb may reuse its key buffer). */
  protected keysOf(db: RecordDb, link: string): Buffer[] {
    return [...(db.getKeys(rangeOf(link)) as Iterable<Buffer>)].map((k) => Buffer.from(k));
  }

  protected forgetOut(st: LinkState, id: bigint): boolean {
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

  protected outEntry(link: string, key: Buffer): SpoolEntry<OutboundMeta> | undefined {
    const v = verifyOut(key, this.read(this.out, key));
    const id = idOf(key);
    if (v.stanza === 'damaged') {
      this.damagedOnce('out', link, id);
      return undefined;
    }
    // Intact bytes with damaged meta: the stanza itself says what the link needs.
    const meta = v.meta ?? { priority: 'high', acceptedAt: this.link(link).acceptedAt.get(id) ?? Date.now() };
    return { id, stanza: v.bytes!, meta };
  }

  /** Counts a failed commit and names it: SPOOL_DISK_FULL for a full disk, else SPOOL_IO. */
  protected async commitFailed(op: string, err: unknown): Promise<SpoolError> {
    this.metrics.inc('spool_errors_total', { ...this.labels, op });
    if (await isDiskFull(err, this.dir)) return new SpoolDiskFullError(op);
    return new SpoolError('SPOOL_IO', `commit failed: ${(err as Error).message}`);
  }

  protected setGauges(): void {
    this.metrics.set('spool_outbound_stanzas', this.totalCount, this.labels);
    this.metrics.set('spool_outbound_bytes', this.totalBytes, this.labels);
  }

  /**
   * Refuses a write before lmdb tries it when the spool's disk is (nearly)
   * full: lmdb-js can corrupt its heap after failed page writes (seen as a
   * glibc abort in the soak), so ENOSPC must stay rare, not routine. The free
   * space is read once per batch (the first write of a batch, or after a
   * commit started or ended); the batch's writes not yet on disk
   * (`bytes` each, see onDisk) count against it.
   */
  protected checkSpace(op: string, bytes: number): void {
    if (this.commits.queued === 0 || this.free.epoch !== this.commits.epoch) {
      let free = Infinity; // cannot tell: let lmdb try
      try {
        const st = statfsSync(this.dir);
        free = st.bavail * st.bsize;
      } catch {
        // keep Infinity
      }
      this.free = { epoch: this.commits.epoch, bytes: free };
    }
    if (this.free.bytes - this.commits.pendingBytes - bytes >= MIN_FREE_BYTES) return;
    this.metrics.inc('spool_disk_full_refusals_total', { ...this.labels, op });
    throw new SpoolDiskFullError(op);
  }

  /**
   * Runs a removal commit (ack, hand-over). When it fails (a full disk) it is
   * retried every second in the background until it succeeds or the spool
   * closes, so that a later restart does not replay what was already
   * acknowledged or handed over. Never rejects.
   */
  protected async durably(op: string, write: () => Promise<unknown>): Promise<void> {
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

  /**
   * Once per link at start, before groups(), pending() and inboundPending():
   * takes every record of `link` that failed its checksum out of the spool and
   * says which stanzas they held, so the caller can bounce them. A link
   * message whose bytes are damaged is rebuilt, under its own id, from its
   * intact stanzas (the partner drops it if it had it already); one whose
   * member list is damaged is dropped and its stanzas go out as new messages.
   * Of an inbound message only the damaged stanzas go; the rest stays.
   */
  recover(link: string): Recovery {
    this.ensureOpen();
    const st = this.link(link);
    const res: Recovery = { damaged: this.salvaged.filter((l) => l.link === link).map(({ store, id, head, sent }) => ({ store, id, head, setAside: true, sent: sent === true })), rebuilt: 0, regrouped: 0 };
    this.salvaged = this.salvaged.filter((l) => l.link !== link);
    const groupPuts: Array<[Buffer, Buffer | undefined]> = [];
    const outGone = new Set<bigint>();
    const carried = new Set<bigint>();
    for (const key of this.keysOf(this.grp, link)) {
      const v = verifyGroup(key, this.read(this.grp, key));
      if (v.bytes !== 'damaged' && v.ids) {
        for (const id of v.ids) carried.add(id);
        continue;
      }
      this.damaged('groups', link, idOf(key), v.ids !== undefined);
      if (!v.ids) {
        groupPuts.push([key, undefined]);
        res.regrouped++;
        continue;
      }
      const keep: Array<{ id: bigint; s: Buffer }> = [];
      for (const id of v.ids) {
        const e = this.outEntry(link, keyOf(link, id));
        if (e) keep.push({ id, s: e.stanza });
        else if (st.damagedOut.has(id)) {
          res.damaged.push({ store: 'out', id, head: headOfMeta(st.damagedOut.get(id)) });
          st.damagedOut.delete(id);
          outGone.add(id);
        }
      }
      for (const k of keep) carried.add(k.id);
      res.rebuilt++;
      groupPuts.push([key, keep.length ? sealGroup(key, keep.map((k) => k.id), Buffer.concat(keep.map((k) => k.s)), v.priority ?? 'high') : undefined]);
    }
    // A damaged stanza that an intact link message carries is delivered from that message.
    for (const [id, meta] of st.damagedOut) {
      if (carried.has(id)) continue;
      res.damaged.push({ store: 'out', id, head: headOfMeta(meta) });
      outGone.add(id);
    }
    const inPuts: Array<[Buffer, Buffer | undefined]> = [];
    for (const key of this.keysOf(this.inb, link)) {
      const id = idOf(key);
      if (!st.inIds.has(id)) continue;
      const v = verifyIn(key, this.read(this.inb, key));
      if (v.verdict !== 'damaged') continue;
      const good = v.parts.filter((p) => p.ok);
      const bad = v.parts.filter((p) => !p.ok);
      this.damaged('in', link, id, bad.some((p) => p.head));
      for (const p of bad.length ? bad : [{ head: undefined }]) res.damaged.push({ store: 'in', id, head: p.head });
      const parts = good.map((p) => ({ length: p.bytes.length, head: p.head }));
      inPuts.push([key, good.length ? sealIn(key, Buffer.concat(good.map((p) => p.bytes)), v.meta, parts) : undefined]);
    }
    if (groupPuts.length + outGone.size + inPuts.length === 0) return res;
    try {
      this.env.transactionSync(() => {
        for (const [k, r] of groupPuts) void (r ? this.grp.putSync(k, r) : this.grp.removeSync(k));
        for (const id of outGone) this.out.removeSync(keyOf(link, id));
        for (const [k, r] of inPuts) void (r ? this.inb.putSync(k, r) : this.inb.removeSync(k));
      });
    } catch (err) {
      // Nothing changed: the damaged records stay out of use and are handled at the next start.
      this.metrics.inc('spool_errors_total', { ...this.labels, op: 'recover' });
      this.log.error({ ...this.labels, link, err: (err as Error).message }, 'could not remove damaged spool records now; they are handled at the next start');
      return { damaged: [], rebuilt: 0, regrouped: 0 };
    }
    for (const id of outGone) st.damagedOut.delete(id);
    for (const [k] of groupPuts) st.members.delete(idOf(k)); // rebuilt or gone: read from disk if acknowledged
    for (const [k, r] of inPuts) if (!r) st.inIds.delete(idOf(k));
    return res;
  }

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
    await this.commits.drain();
    await this.env.committed;
    await this.env.flushed;
    await this.env.close();
  }
}

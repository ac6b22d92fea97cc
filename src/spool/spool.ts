/**
 * Durable spool (lmdb): outbound stanzas per link until the partner acks them,
 * inbound stanzas per link until handed to the local S2S side.
 *
 * Durability: the environment is opened with noSync off and overlappingSync
 * off, so a write promise resolves only after LMDB's commit has fsynced.
 * Writes are group-committed (commit.ts): all queued in one event-loop turn,
 * or while the previous commit runs, go in one transaction (atomic) and one
 * fsync, and only then do their promises resolve.
 *
 * Stores (keys: records.ts; values binary, layout and checksums: record-layout.ts, state-records.ts):
 *          out    key -> stanza, OutboundMeta
 *          in     key -> stanza(s), InboundMeta?, per stanza its length and head
 *          groups key -> member ids, link message bytes, priority
 *          state 'seq\0'+link -> last id handed out (ids are never reused)
 *                'gseq\0'+link -> last link message id; 'gbase' -> first one of a fresh spool
 *                'dut\0'+link -> deliveredUpTo, ids above it
 * Records an older release wrote (msgpack objects) are still read (legacy-records.ts).
 * Damage: a record that fails its checksum is never handed out as data; recover()
 * reports it for a bounce. A spool lmdb cannot open safely is moved aside (check.ts).
 */
import { open } from 'lmdb';
import { SpoolError, SpoolFullError } from './errors.ts';
import { guardLmdbCommitRejections } from './lmdb-guard.ts';
import { openChecked, type Salvaged } from './check.ts';
import {
  headOfMeta, idOf, inMetaOf, keyOf, sealGroup, sealIn, sealOut, sealState, verifyGroup, verifyIn, verifyOut,
  type InboundMeta, type OutboundMeta, type PartInfo, type Priority,
} from './records.ts';
import { onDisk, SpoolStore, type DamagedStanza, type InState, type LinkState, type SpoolEntry, type SpoolGroup, type SpoolOptions } from './store.ts';

export type { InboundMeta, OutboundMeta, PartInfo, Priority, StanzaHead } from './records.ts';
export type { DamagedStanza, Recovery, SpoolEntry, SpoolGroup, SpoolOptions, SpoolStats } from './store.ts';

/** Longest link name (UTF-8 bytes): its keys stay well inside lmdb's key limit, so a write never fails the batch it shares. */
const MAX_LINK_BYTES = 1024;

function checkLink(link: string): void {
  if (link.length === 0 || link.includes('\0') || Buffer.byteLength(link) > MAX_LINK_BYTES) {
    throw new SpoolError('SPOOL_BAD_LINK', `bad link name: ${JSON.stringify(link.slice(0, 64))}${link.length > 64 ? '...' : ''}`);
  }
}

export class Spool extends SpoolStore {
  /** Newest rest per inbound record whose keepInbound write is under way. */
  private readonly keeping = new Map<string, { rest: Buffer; parts?: PartInfo[] }>();
  /** The write under way per inbound record in `keeping`: settles once the newest rest is stored. */
  private readonly keepingDone = new Map<string, Promise<void>>();

  /**
   * Opens (creating if needed) the spool in directory `dir`. A spool that is
   * damaged beyond what per-record checksums cover is moved aside first
   * (check.ts) and a fresh one opened in its place.
   */
  static open(dir: string, opts: SpoolOptions): Spool {
    if (!(opts.maxBytes > 0) || !(opts.maxStanzas > 0)) throw new SpoolError('SPOOL_BAD_OPTIONS', 'maxBytes and maxStanzas must be > 0');
    guardLmdbCommitRejections(); // a full disk must refuse writes, not crash the process
    return openChecked(dir, opts, (fresh, salvaged) => Spool.openEnv(dir, opts, fresh, salvaged));
  }

  private static openEnv(dir: string, opts: SpoolOptions, fresh: boolean, salvaged: Salvaged[]): Spool {
    // eventTurnBatching off: with it, a failed commit (a full disk) also rejects an
    // internal batch promise nobody holds, an unhandled rejection (see lmdb-guard.ts).
    const env = open({ path: dir, noSubdir: false /* a directory, even named "a.link" */, noSync: false, overlappingSync: false, noMetaSync: false, maxDbs: 8, eventTurnBatching: false });
    try {
      // Records are binary (record-layout.ts): no msgpack on the way in or out; older msgpack records are decoded by legacy-records.ts.
      const out = env.openDB<Buffer, Buffer>('out', { keyEncoding: 'binary', encoding: 'binary' });
      const inb = env.openDB<Buffer, Buffer>('in', { keyEncoding: 'binary', encoding: 'binary' });
      const state = env.openDB<Buffer, string>('state', { encoding: 'binary' });
      const grp = env.openDB<Buffer, Buffer>('groups', { keyEncoding: 'binary', encoding: 'binary' });
      const sp = new Spool(env, out, inb, state, grp, opts, dir);
      if (fresh) sp.startIdsAfterDamage();
      sp.salvaged = salvaged;
      sp.load();
      return sp;
    } catch (err) {
      void env.close();
      throw err;
    }
  }

  /**
   * Stores a stanza for `link` and returns its id (strictly increasing per
   * link, never reused). Resolves once the commit is on disk. Throws
   * SpoolFullError (nothing stored) when the limits would be exceeded.
   */
  async accept(link: string, stanza: Buffer, meta: OutboundMeta): Promise<bigint> {
    this.ensureOpen();
    checkLink(link);
    const bytes = onDisk(stanza.length);
    this.checkSpace('accept', bytes);
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
    const key = keyOf(link, id);
    const rec = sealOut(key, stanza, meta); // a copy: the caller may reuse its buffer
    try {
      await this.commits.add({
        db: this.out,
        key,
        value: rec,
        bytes,
        last: this.seqWrite(link, st),
        done: st.onAccepted ??= () => this.tally('accepted', link),
      });
    } catch (err) {
      this.forgetOut(st, id);
      this.log.error({ err, link }, 'spool accept commit failed');
      throw await this.commitFailed('accept', err);
    }
    return id;
  }

  /** Removes an acknowledged stanza. Unknown ids are ignored (ack is idempotent). */
  async ack(link: string, id: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!this.forgetOut(st, id)) {
      this.metrics.inc('spool_ack_unknown_total', { link });
      return;
    }
    const key = keyOf(link, id);
    await this.durably('ack', () => this.commits.add({ db: this.out, key, bytes: 0, done: () => this.tally('acked', link) }));
  }

  /**
   * Records, durably and in one commit, which spooled stanzas travel together
   * as one link message and its exact bytes, giving each message a group id
   * (strictly increasing per link). After a crash the same messages go out
   * again with the same ids, so the receiver recognises what it already has.
   */
  async assignGroups(link: string, groups: Array<{ ids: bigint[]; stanza: Buffer; priority: Priority }>): Promise<bigint[]> {
    this.ensureOpen();
    checkLink(link);
    const bytes = groups.reduce((n, g) => n + onDisk(g.stanza.length + 24 * g.ids.length), 0);
    this.checkSpace('assign', bytes);
    const st = this.link(link);
    const firstGid = st.lastGid;
    const gids = groups.map(() => ++st.lastGid);
    const recs = groups.map((g, i) => {
      const key = keyOf(link, gids[i]);
      return [key, sealGroup(key, g.ids, g.stanza, g.priority)] as const;
    });
    const seqKey = `gseq\0${link}`;
    const last = st.lastGid.toString();
    groups.forEach((g, i) => st.members.set(gids[i], g.ids.slice()));
    try {
      await this.commits.add({
        apply: () => {
          for (const [key, rec] of recs) this.grp.put(key, rec);
        },
        bytes,
        last: [seqKey, () => this.state.put(seqKey, sealState(seqKey, last))],
        // Not recorded: give the ids back (message ids must stay contiguous on the link; undos run newest first).
        undo: () => {
          for (const gid of gids) st.members.delete(gid);
          if (st.lastGid === gids.at(-1)) st.lastGid = firstGid;
        },
      });
    } catch (err) {
      throw await this.commitFailed('assign', err);
    }
    return gids;
  }

  /** The partner has a link message: its record and every stanza in it go, in one commit. */
  async ackGroup(link: string, gid: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    const key = keyOf(link, gid);
    let ids = st.members.get(gid);
    if (ids) st.members.delete(gid);
    else {
      const rec = this.read(this.grp, key);
      if (!rec) {
        this.metrics.inc('spool_ack_unknown_total', { link });
        return;
      }
      // A member list damaged since start: the record goes, its stanzas stay (sent again after a restart).
      ids = verifyGroup(key, rec).ids ?? [];
    }
    const members = ids;
    await this.durably('ack_group', () =>
      this.commits.add({
        apply: () => {
          this.grp.remove(key);
          for (const id of members) this.out.remove(keyOf(link, id));
        },
        bytes: 0,
        done: () => this.tally('acked', link, members.filter((id) => this.forgetOut(st, id)).length),
      }),
    );
  }

  /** Link messages assigned but not yet acknowledged, in group id order (damaged ones left out: see recover()). */
  groups(link: string): SpoolGroup[] {
    this.ensureOpen();
    const st = this.link(link);
    const res: SpoolGroup[] = [];
    for (const key of this.keysOf(this.grp, link)) {
      const v = verifyGroup(key, this.read(this.grp, key));
      const gid = idOf(key);
      if (v.bytes === 'damaged' || !v.ids) {
        this.damagedOnce('groups', link, gid);
        continue;
      }
      st.members.set(gid, v.ids.slice());
      res.push({ gid, ids: v.ids, stanza: v.stanza!, priority: v.priority ?? 'high' });
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

  /** One unacknowledged outbound stanza, read from disk and checked; undefined if gone or damaged. */
  entry(link: string, id: bigint): SpoolEntry<OutboundMeta> | undefined {
    this.ensureOpen();
    if (!this.link(link).outSizes.has(id)) return undefined;
    return this.outEntry(link, keyOf(link, id));
  }

  /** An outbound stanza whose stored bytes are damaged, with its head when that is intact; undefined when absent or intact. */
  damagedOut(link: string, id: bigint): DamagedStanza | undefined {
    const key = keyOf(link, id);
    const rec = this.read(this.out, key);
    if (rec === undefined && !this.link(link).damagedOut.has(id)) return undefined;
    const v = verifyOut(key, rec);
    return v.stanza === 'damaged' ? { store: 'out', id, head: headOfMeta(v.meta) } : undefined;
  }

  /** All outbound stanzas still unacknowledged, in id order (damaged ones left out: see recover()). */
  pending(link: string): Array<SpoolEntry<OutboundMeta>> {
    this.ensureOpen();
    const st = this.link(link);
    const res: Array<SpoolEntry<OutboundMeta>> = [];
    for (const key of this.keysOf(this.out, link)) {
      if (!st.outSizes.has(idOf(key))) continue; // acked (removal not yet committed) or damaged
      const e = this.outEntry(link, key);
      if (e) res.push(e);
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

  /**
   * Stores a stanza received from the partner together with the new
   * deliveredUpTo, in one transaction. Returns false (nothing stored) for a
   * duplicate: id <= deliveredUpTo or already held above a gap.
   */
  async receive(link: string, id: bigint, stanza: Buffer, meta?: Uint8Array, parts?: PartInfo[]): Promise<boolean> {
    this.ensureOpen();
    checkLink(link);
    if (id <= 0n) throw new SpoolError('SPOOL_BAD_ID', `inbound id must be > 0: ${id}`);
    const st = this.link(link);
    if (id <= st.deliveredUpTo || st.above.has(id)) {
      this.metrics.inc('spool_inbound_duplicate_total', { link });
      // The first copy may still wait for its commit: say "have it" only once it is on disk.
      if (this.commits.busy) await this.commits.add({ bytes: 0 }).catch(async (err: unknown) => Promise.reject(await this.commitFailed('receive', err)));
      return false;
    }
    const bytes = onDisk(stanza.length);
    this.checkSpace('receive', bytes);
    st.above.add(id);
    this.absorb(st);
    st.inIds.set(id, meta);
    const key = keyOf(link, id);
    const rec = sealIn(key, Buffer.from(stanza), meta, parts);
    try {
      const inState = this.inState(link, st);
      await this.commits.add({ db: this.inb, key, value: rec, bytes, last: inState.last, done: () => (inState.done(), this.tally('received', link)) });
    } catch (err) {
      // Nothing stored (memory went back to the last commit): forget it, or a retry would be taken for a duplicate (and lost).
      st.inIds.delete(id);
      this.log.error({ err, link }, 'spool receive commit failed');
      throw await this.commitFailed('receive', err);
    }
    return true;
  }

  /**
   * Writes the link's last id, once per batch (only the newest `last` of a
   * batch runs): every accept takes its id before it queues its write, so at
   * the batch's cut lastId is the newest id in it. One function per link.
   */
  private seqWrite(link: string, st: LinkState): [string, () => void] {
    if (!st.seqWrite) {
      const k = `seq\0${link}`;
      st.seqWrite = [k, () => this.state.put(k, sealState(k, st.lastId.toString()))];
    }
    return st.seqWrite;
  }

  /**
   * The delivered-up-to record as of now, written once per commit (the newest
   * of the batch: writes apply in call order, so it matches the records
   * written), and remembered as committed once it is.
   */
  private inState(link: string, st: LinkState): { last: [string, () => void]; done: () => void } {
    const snap: InState = { d: st.deliveredUpTo.toString(), a: [...st.above].map(String) };
    const k = `dut\0${link}`;
    return { last: [k, () => this.state.put(k, sealState(k, snap))], done: () => void (st.durableIn = snap) };
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
    checkLink(link);
    const st = this.link(link);
    if (upTo <= st.deliveredUpTo) return;
    const bytes = onDisk(0);
    this.checkSpace('floor', bytes);
    st.deliveredUpTo = upTo;
    this.absorb(st);
    try {
      await this.commits.add({ bytes, ...this.inState(link, st) });
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

  /** Inbound stanzas not yet handed over to the local side, in id order (damaged ones left out: see recover()). */
  inboundPending(link: string): Array<SpoolEntry<InboundMeta>> {
    this.ensureOpen();
    const st = this.link(link);
    const res: Array<SpoolEntry<InboundMeta>> = [];
    for (const key of this.keysOf(this.inb, link)) {
      const id = idOf(key);
      if (!st.inIds.has(id)) continue;
      const v = verifyIn(key, this.read(this.inb, key));
      if (v.verdict === 'damaged') this.damagedOnce('in', link, id);
      else res.push({ id, stanza: Buffer.concat(v.parts.map((p) => p.bytes)), meta: v.meta });
    }
    return res;
  }

  /**
   * Part of a multi-stanza inbound message was handed over: keep only `rest`
   * (the stanzas still to hand over), durably, so a restart replays just those.
   */
  async keepInbound(link: string, id: bigint, rest: Buffer, parts?: PartInfo[]): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!st.inIds.has(id)) return;
    const key = keyOf(link, id);
    const k = `${link}\0${id}`;
    this.keeping.set(k, { rest: Buffer.from(rest), parts });
    // A write or retry of this record is under way: it takes the newest rest, and this caller waits for it.
    const under = this.keepingDone.get(k);
    if (under) return under;
    // Retried until stored (or handed over whole): a restart must not replay what was handed over.
    // Both maps are cleared in the same step the loop ends in, so a later caller starts a write of its own.
    const finished = (): void => {
      this.keeping.delete(k);
      this.keepingDone.delete(k);
    };
    const done = this.durably('keep_inbound', async () => {
      for (;;) {
        const latest = this.keeping.get(k);
        if (!latest || !st.inIds.has(id)) return finished();
        const bytes = onDisk(latest.rest.length);
        this.checkSpace('keep_inbound', bytes);
        const known = st.inIds.get(id);
        const rec = sealIn(key, latest.rest, known === null ? inMetaOf(key, this.read(this.inb, key)) : known, latest.parts);
        await this.commits.add({ db: this.inb, key, value: rec, bytes });
        if (this.keeping.get(k) === latest) return finished();
      }
    }).finally(() => {
      // A failed write is retried in the background (durably): later callers start their own.
      if (this.keepingDone.get(k) === done) this.keepingDone.delete(k);
    });
    this.keepingDone.set(k, done);
    return done;
  }

  /** The stanza was handed to the local side: drop it from the inbound spool. */
  async handedOver(link: string, id: bigint): Promise<void> {
    this.ensureOpen();
    const st = this.link(link);
    if (!st.inIds.delete(id)) return;
    const key = keyOf(link, id);
    await this.durably('handed_over', () => this.commits.add({ db: this.inb, key, bytes: 0, done: (st.onHandedOver ??= () => this.tally('handedOver', link)) }));
  }
}

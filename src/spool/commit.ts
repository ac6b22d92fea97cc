/**
 * Group commit: the spool writes queued in one event-loop turn, and all that
 * arrive while a commit is being fsync'd, go to lmdb as one transaction with
 * one fsync. Each caller's promise settles only after that commit, so
 * whatever a caller acknowledges on a resolved write is on disk.
 *
 * A failed commit fails its writes and every write queued behind it (none of
 * them reached lmdb), newest first, so callers can give back what they
 * reserved in memory in reverse order (ids stay contiguous).
 */
import type { RootDatabase } from 'lmdb';

/** A database a write puts a record in or removes one from. */
export interface Store {
  put(key: Buffer, value: Buffer): unknown;
  remove(key: Buffer): unknown;
}

/**
 * One queued write: `put` (a value) or removal (none) of `key` in `db`,
 * and/or `apply` for anything else, run inside the batch's transaction in
 * that order. (Data, not a closure, for the common single record: no
 * function made per write.)
 */
export interface Write {
  db?: Store;
  key?: Buffer;
  value?: Buffer;
  apply?: () => void;
  /** Estimated bytes it adds on disk (for the disk-space guard). */
  bytes: number;
  /** Runs after the commit, before the caller's promise resolves (counters, memory state). */
  done?: () => void;
  /**
   * A write of which only the newest in a batch matters (a sequence or
   * delivered-up-to record): [key, write]. Applied after the batch's other writes.
   */
  last?: [string, () => void];
}

/** A queued write and its caller's promise (kept apart: no copy of the write per call). */
interface Queued {
  w: Write;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface CommitHooks {
  /** After each successful commit, after every write's `done`, before the promises resolve. */
  committed(writes: number): void;
  /** A commit failed: every queued write is about to be rejected (newest first). */
  failed(err: unknown): void;
}

export class GroupCommit {
  private queue: Queued[] = [];
  private lasts = new Map<string, () => void>();
  /** A transaction is queued in lmdb or committing: at most one, so a failed one fails everything behind it. */
  private outstanding: Promise<void> | undefined;
  private runningBytes = 0;
  private queuedBytes = 0;
  /** Changes whenever a batch is cut or its commit ends: free space read in an earlier epoch is stale. */
  epoch = 0;

  constructor(private readonly env: RootDatabase, private readonly hooks: CommitHooks) {}

  /** Estimated bytes queued or being committed, not yet on disk. */
  get pendingBytes(): number {
    return this.queuedBytes + this.runningBytes;
  }

  /** Writes queued for the next batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** A commit is under way or writes wait for one. */
  get busy(): boolean {
    return this.outstanding !== undefined || this.queue.length > 0;
  }

  /** Queues a write; resolves once the batch holding it is committed and fsync'd. */
  add(w: Write): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.queue.push({ w, resolve, reject }));
    if (w.last) this.lasts.set(w.last[0], w.last[1]);
    this.queuedBytes += w.bytes;
    if (!this.outstanding) this.begin();
    return p;
  }

  /** Settles once everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    while (this.outstanding) await this.outstanding;
  }

  /**
   * Asks lmdb for a transaction. lmdb starts it after the current event-loop
   * turn (setImmediate), and the batch is cut only then: every write queued
   * in the meantime goes into it.
   */
  private begin(): void {
    let batch: Queued[] = [];
    const cut = (): void => {
      batch = this.queue;
      const lasts = this.lasts;
      this.queue = [];
      this.lasts = new Map();
      this.runningBytes = this.queuedBytes;
      this.queuedBytes = 0;
      this.epoch++;
      for (const q of batch) {
        const w = q.w;
        if (w.db) void (w.value ? w.db.put(w.key!, w.value) : w.db.remove(w.key!));
        w.apply?.();
      }
      for (const write of lasts.values()) write();
    };
    let started: Promise<unknown>;
    try {
      // Inside a write transaction lmdb runs the callback at once and returns its result, not a promise.
      started = Promise.resolve(this.env.transaction(cut));
    } catch (err) {
      started = Promise.reject(err); // no transaction: the queued writes fail, none waits forever
    }
    this.outstanding = started.then(
      () => this.settle(batch, undefined),
      (err: unknown) => this.settle(batch, err ?? new Error('commit failed')),
    );
  }

  private settle(batch: Queued[], err: unknown): void {
    this.outstanding = undefined;
    this.runningBytes = 0;
    this.epoch++;
    if (err === undefined) {
      try {
        for (const q of batch) q.w.done?.();
        this.hooks.committed(batch.length);
      } finally {
        for (const q of batch) q.resolve(); // committed: callers learn it whatever the bookkeeping did
      }
    } else {
      // Writes queued behind a failed commit fail too: their memory state assumed it.
      const all = batch.concat(this.queue);
      this.queue = [];
      this.lasts = new Map();
      this.queuedBytes = 0;
      this.hooks.failed(err);
      for (let i = all.length - 1; i >= 0; i--) all[i].reject(err);
    }
    if (this.queue.length) this.begin();
  }
}

/**
 * Group commit: the spool writes queued in one event-loop turn, and all that
 * arrive while a commit is being fsync'd, go to lmdb as one transaction with
 * one fsync. The writes of a batch share one promise, which settles only
 * after that commit, so whatever a caller acknowledges on a resolved write is
 * on disk.
 *
 * A failed commit fails its writes and every write queued behind it (none of
 * them reached lmdb): their `undo`s run first, newest first, so what callers
 * reserved in memory is given back in reverse order (ids stay contiguous).
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
  /** Runs when the write failed (its commit, or one before it), before the caller's promise rejects. */
  undo?: () => void;
  /**
   * A write of which only the newest in a batch matters (a sequence or
   * delivered-up-to record): [key, write]. Applied after the batch's other writes.
   */
  last?: [string, () => void];
}

/** The writes of one batch and the promise they share. */
class Batch {
  readonly writes: Write[] = [];
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export interface CommitHooks {
  /** After each successful commit, after every write's `done`, before the promises resolve. */
  committed(writes: number): void;
  /** A commit failed: every queued write is about to be rejected (newest first). */
  failed(err: unknown): void;
}

export class GroupCommit {
  /** The batch being filled (cut when lmdb starts its transaction). */
  private open = new Batch();
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
    return this.open.writes.length;
  }

  /** A commit is under way or writes wait for one. */
  get busy(): boolean {
    return this.outstanding !== undefined || this.open.writes.length > 0;
  }

  /** Queues a write; resolves once the batch holding it is committed and fsync'd. */
  add(w: Write): Promise<void> {
    const batch = this.open;
    batch.writes.push(w);
    if (w.last) this.lasts.set(w.last[0], w.last[1]);
    this.queuedBytes += w.bytes;
    if (!this.outstanding) this.begin();
    return batch.promise;
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
    let batch: Batch | undefined;
    const cut = (): void => {
      batch = this.open;
      const lasts = this.lasts;
      this.open = new Batch();
      this.lasts = new Map();
      this.runningBytes = this.queuedBytes;
      this.queuedBytes = 0;
      this.epoch++;
      for (const w of batch.writes) {
        if (w.db) void (w.value ? w.db.put(w.key!, w.value) : w.db.remove(w.key!));
        w.apply?.();
      }
      for (const write of lasts.values()) write();
    };
    let started: Promise<unknown>;
    try {
      // A child transaction: if a write throws inside it, lmdb aborts all of the batch's
      // writes (a plain transaction() keeps those made before the throw, yet rejects).
      started = Promise.resolve(this.env.childTransaction(cut));
    } catch (err) {
      started = Promise.reject(err); // no transaction: the queued writes fail, none waits forever
    }
    this.outstanding = started.then(
      () => this.settle(batch, undefined),
      (err: unknown) => this.settle(batch, err ?? new Error('commit failed')),
    );
  }

  /** `batch` undefined: lmdb never ran the transaction (nothing was cut; the open batch fails). */
  private settle(batch: Batch | undefined, err: unknown): void {
    this.outstanding = undefined;
    this.runningBytes = 0;
    this.epoch++;
    if (err === undefined && batch) {
      try {
        for (const w of batch.writes) w.done?.();
        this.hooks.committed(batch.writes.length);
      } finally {
        batch.resolve(); // committed: callers learn it whatever the bookkeeping did
      }
    } else {
      // Writes queued behind a failed commit fail too: their memory state assumed it.
      const failed = batch && batch !== this.open ? [batch, this.open] : [this.open];
      this.open = new Batch();
      this.lasts = new Map();
      this.queuedBytes = 0;
      const error = err ?? new Error('commit failed');
      try {
        this.hooks.failed(error);
      } finally {
        for (let b = failed.length - 1; b >= 0; b--) {
          const ws = failed[b].writes;
          for (let i = ws.length - 1; i >= 0; i--) ws[i].undo?.();
        }
        for (const b of failed) if (b.writes.length) b.reject(error); // an empty batch has no one waiting
      }
    }
    if (this.open.writes.length) this.begin();
  }
}

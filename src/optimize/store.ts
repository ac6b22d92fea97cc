/**
 * A JSON document kept in one file, written atomically (temp file + fsync +
 * rename, so a crash leaves the old or the new version, never half of one)
 * and debounced (many changes, one write). Loaded synchronously at start.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';

export interface JsonFileStoreOptions {
  /** Delay between a change and its write (default 1000 ms). */
  debounceMs?: number;
  logger?: Logger;
  metrics?: Metrics;
}

export class JsonFileStore {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<boolean> = Promise.resolve(true);
  private getter: (() => unknown) | undefined;
  private readonly debounceMs: number;
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private closed = false;

  constructor(readonly path: string, opts: JsonFileStoreOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 1000;
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new Metrics();
  }

  /** The stored document, or undefined when absent or unreadable (counted, logged). */
  load(): unknown {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.metrics.inc('optimize_store_errors_total', { op: 'read' });
        this.log.warn({ path: this.path, err: (err as Error).message }, 'cannot read optimizer state; starting empty');
      }
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      this.metrics.inc('optimize_store_errors_total', { op: 'parse' });
      this.log.warn({ path: this.path, err: (err as Error).message }, 'optimizer state is not valid JSON; starting empty');
      return undefined;
    }
  }

  /** Schedules a write of getter() after the debounce delay. */
  schedule(getter: () => unknown): void {
    this.getter = getter;
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** Writes the pending document now; resolves true once it is on disk, false when the write failed (logged, counted). */
  flush(): Promise<boolean> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const getter = this.getter;
    this.getter = undefined;
    if (!getter) return this.writing;
    this.writing = this.writing.then(() => this.write(getter));
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private async write(getter: () => unknown): Promise<boolean> {
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      const doc = getter();
      mkdirSync(dirname(this.path), { recursive: true });
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(doc));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      this.metrics.inc('optimize_store_writes_total', { op: 'write' });
      return true;
    } catch (err) {
      this.metrics.inc('optimize_store_errors_total', { op: 'write' });
      this.log.error({ path: this.path, err: (err as Error).message }, 'cannot write optimizer state');
      await unlink(tmp).catch(() => undefined);
      return false;
    }
  }
}

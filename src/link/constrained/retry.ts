/**
 * Spool writes the link cannot skip (recording link messages, storing a
 * received message) are tried again every second while the disk refuses
 * them (full, I/O error) and the link runs, on the link's clock.
 */
import { SpoolError } from '../../spool/index.ts';
import { sleep, type Clock } from '../../time/index.ts';
import type { Logger } from '../../obs/log.ts';

export const STORE_RETRY_MS = 1000;

/** Spool failures worth retrying: the disk (full, I/O), not bad arguments or a closed spool. */
export function retryable(err: unknown): boolean {
  return err instanceof SpoolError && (err.code === 'SPOOL_DISK_FULL' || err.code === 'SPOOL_IO');
}

export interface RetryContext {
  clock: Clock;
  log: Logger;
  /** False once the link stops: no further attempt. */
  running(): boolean;
  /** Each failure's message (the link's lastError). */
  failed(message: string): void;
}

/** Runs a spool write, again every second while it fails for the disk and the link runs; other failures are thrown. */
export async function retryingWrite<T>(c: RetryContext, write: () => Promise<T>, what: string, fields: Record<string, string>): Promise<T> {
  for (;;) {
    try {
      return await write();
    } catch (err) {
      const message = (err as Error).message;
      c.failed(message);
      if (!c.running() || !retryable(err)) throw err;
      c.log.error({ err: message, ...fields }, `${what}; retrying in ${STORE_RETRY_MS / 1000} s`);
      await sleep(c.clock, STORE_RETRY_MS);
      if (!c.running()) throw err;
    }
  }
}

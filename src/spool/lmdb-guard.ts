/**
 * lmdb-js and a full disk (ENOSPC): a failed asynchronous commit rejects the
 * caller's promise, but lmdb also rejects promises of its own that nobody
 * holds (the event-turn batch start and `commitError`). Node ends the
 * process on an unhandled rejection, so a relay would crash on a full disk
 * instead of refusing stanzas. The guard swallows exactly those rejections
 * (the caller already got the error); anything else keeps Node's default.
 */

import { statfsSync } from 'node:fs';

/** Errno values lmdb reports for a full disk or quota. */
const DISK_FULL_CODES = new Set([28 /* ENOSPC */, 122 /* EDQUOT */, 'ENOSPC', 'EDQUOT']);

function isLmdbCommitFailure(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  if ('commitError' in reason) return true;
  const code = (reason as { code?: unknown }).code;
  return typeof code === 'number' && /[\\/]node_modules[\\/]lmdb[\\/]/.test(reason.stack ?? '');
}

let installed = false;

/** Installs the process-wide filter once (idempotent). */
export function guardLmdbCommitRejections(): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    if (isLmdbCommitFailure(reason)) return;
    // Not ours: behave as if no listener were installed (Node's default throws),
    // unless someone else (a test runner) listens too and decides.
    if (process.listenerCount('unhandledRejection') === 1) throw reason;
  });
}

/**
 * True when a failed lmdb write failed for lack of disk space. Waits for the
 * error's `commitError` (the cause lmdb reports separately), which also
 * marks that promise handled. On a full disk lmdb sometimes reports EIO
 * (a short write) instead of ENOSPC: with `dir` given, no free space left
 * there counts as full too.
 */
export async function isDiskFull(err: unknown, dir?: string): Promise<boolean> {
  let cause: unknown = err;
  const ce = (err as { commitError?: Promise<unknown> } | undefined)?.commitError;
  if (ce && typeof ce.then === 'function') cause = await ce.then(() => err, (e: unknown) => e);
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (DISK_FULL_CODES.has(code as never)) return true;
  if (/no space left on device|quota exceeded/i.test(String((cause as Error | undefined)?.message ?? ''))) return true;
  if (!dir) return false;
  try {
    const st = statfsSync(dir);
    return st.bavail * st.bsize < 64 * 1024; // less than a few lmdb pages left
  } catch {
    return false;
  }
}

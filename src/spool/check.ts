/**
 * Before the relay opens a spool: is it safe for lmdb? A damaged lmdb file can
 * crash the process in C code (a flipped meta byte: SIGSEGV; random bytes in
 * a page: glibc abort or MDB_BAD_TXN), so two checks run first, both only
 * reading:
 *  1. a structural check of data.mdb in TypeScript (lmdb-file.ts), and
 *  2. a child process that reads every record through lmdb (walk-child.mjs):
 *     if lmdb crashes there, the relay does not.
 * A spool that fails either, or that lmdb refuses to open as corrupt, is moved
 * aside to `<dir>.corrupt-<time>/` (with REASON.txt) and the relay starts on a
 * fresh, empty spool, so the link keeps working; what a second child
 * (salvage-child.ts) can still read of its stanzas is handed to recover() for
 * bounces. Cost: 0.12-0.3 s per spool at start, most of it the child's Node
 * start (bench/spool-check.ts; figures in docs/operator-guide.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLmdbFile, type LmdbFileReport } from './lmdb-file.ts';
import type { StanzaHead } from './records.ts';
import type { SalvageLine } from './salvage-child.ts';
import { SpoolError } from './errors.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import type { Metrics } from '../obs/metrics.ts';

const CHILD = fileURLToPath(new URL('./walk-child.mjs', import.meta.url));
// Compiled beside this file (npm test's build/), or the TypeScript through tsx.
const SALVAGE = import.meta.url.endsWith('.js')
  ? [fileURLToPath(new URL('./salvage-child.js', import.meta.url))]
  : ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./salvage-child.ts', import.meta.url))];
/** lmdb errors that mean a damaged file, not a permission or resource problem. */
const CORRUPT = /\bMDB_(PAGE_NOTFOUND|CORRUPTED|PANIC|INVALID|INCOMPATIBLE|BAD_TXN|BAD_VALSIZE|CURSOR_FULL)\b/;
/** The child gets this long; a slower disk is no finding (the check is skipped, logged). */
const CHILD_TIMEOUT_MS = 120_000;

export interface SpoolDirCheck {
  /** What is wrong; undefined when the spool looks sound (or there is none yet). */
  problem?: string;
  /** Records per database, as far as they could be counted. */
  records?: Record<string, number>;
  structure?: LmdbFileReport;
  /** The child could not run to the end for a reason other than damage (timeout, resources). */
  skipped?: string;
  ms: number;
}

export function isCorruptionError(err: unknown): boolean {
  return CORRUPT.test(String((err as Error | undefined)?.message ?? err));
}

/** Checks the spool in `dir` without opening it in this process. Throws SpoolError SPOOL_IO when it cannot be read at all. */
export function checkSpoolDir(dir: string): SpoolDirCheck {
  const t0 = performance.now();
  const file = join(dir, 'data.mdb');
  if (!existsSync(file)) return { ms: 0 };
  let structure: LmdbFileReport;
  try {
    structure = checkLmdbFile(file);
  } catch (err) {
    throw new SpoolError('SPOOL_IO', `cannot read ${file}: ${(err as Error).message}`);
  }
  const done = (r: Omit<SpoolDirCheck, 'ms' | 'structure'>): SpoolDirCheck => ({ ...r, structure, ms: Math.round(performance.now() - t0) });
  if (structure.problem) return done({ problem: structure.problem, records: structure.entries });
  const res = spawnSync(process.execPath, [CHILD, import.meta.resolve('lmdb'), dir], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.error) return done({ skipped: `the lmdb read check did not finish: ${res.error.message}`, records: structure.entries });
  if (res.signal) return done({ problem: `lmdb crashed reading it (${res.signal})`, records: structure.entries });
  if (res.status !== 0) {
    const why = res.stderr.split('\n').find((l) => /Error|MDB_/.test(l))?.trim() ?? `exit ${res.status}`;
    if (isCorruptionError(res.stderr)) return done({ problem: `lmdb failed reading it: ${why}`, records: structure.entries });
    throw new SpoolError('SPOOL_IO', `cannot read the spool in ${dir}: ${why}`);
  }
  const line = res.stdout.trim().split('\n').at(-1) ?? '{}';
  return done({ records: (JSON.parse(line) as { records?: Record<string, number> }).records });
}

/** A stanza of a spool being set aside, as far as it could be read: bounced when `head` is known and it was never `sent`. */
export interface Salvaged {
  store: 'out' | 'in';
  link: string;
  id: bigint;
  head?: StanzaHead;
  /** Part of a link message already given to the link protocol: it may have arrived. */
  sent?: boolean;
}

/**
 * Reads what it can of a damaged spool's stanzas in a child process (a crash
 * there keeps the lines printed before it): their heads, for bounces.
 */
export function salvage(dir: string): Salvaged[] {
  const res = spawnSync(process.execPath, [...SALVAGE, dir], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Salvaged[] = [];
  for (const line of (res.stdout ?? '').split('\n')) {
    try {
      const l = JSON.parse(line) as SalvageLine;
      out.push({ store: l.store, link: l.link, id: BigInt(l.id), head: l.head, sent: l.sent });
    } catch {
      // a line cut short by a crash, or none
    }
  }
  return out;
}

/**
 * Moves the lmdb files of a damaged spool to `<dir>.corrupt-<time>/` with the
 * reason beside them, leaving `dir` empty for a fresh spool. Returns the new place.
 */
export function setAside(dir: string, problem: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const aside = `${dir.replace(/[\\/]+$/, '')}.corrupt-${stamp}`;
  mkdirSync(aside, { recursive: true });
  for (const f of ['data.mdb', 'lock.mdb']) {
    if (existsSync(join(dir, f))) renameSync(join(dir, f), join(aside, f));
  }
  writeFileSync(join(aside, 'REASON.txt'), `${now.toISOString()} ${problem}\n`);
  return aside;
}

interface CheckContext {
  logger?: Logger;
  metrics?: Metrics;
  labels?: Record<string, string>;
}

/**
 * Opens the spool in `dir` with `open(fresh)` after checking it; a damaged
 * spool is set aside first and `open(true)` gets an empty directory. lmdb
 * refusing the file as corrupt while opening counts as damage too.
 */
export function openChecked<T>(dir: string, ctx: CheckContext, open: (fresh: boolean, salvaged: Salvaged[]) => T): T {
  const log = ctx.logger ?? silentLogger;
  const labels = ctx.labels ?? {};
  const check = checkSpoolDir(dir);
  if (check.skipped) log.warn({ ...labels, dir, why: check.skipped }, 'spool check skipped');
  for (const w of check.structure?.warnings ?? []) log.warn({ ...labels, dir, finding: w }, 'spool statistics damaged (harmless to lmdb)');
  if (check.structure && !check.problem) log.info({ ...labels, dir, ms: check.ms, pages: check.structure.pages }, 'spool checked');
  const aside = (problem: string, records?: Record<string, number>): Salvaged[] => {
    const lost = salvage(dir);
    const to = setAside(dir, problem);
    ctx.metrics?.inc('spool_quarantined_total', labels);
    const out = lost.filter((l) => l.store === 'out');
    log.error(
      {
        ...labels,
        dir,
        moved_to: to,
        problem,
        held: records && Object.keys(records).length > 0 ? records : 'unknown (the damage stops the count)',
        read: { outbound: out.length, on_the_bearer: out.filter((l) => l.sent).length, inbound: lost.length - out.length, sender_known: lost.filter((l) => l.head).length },
      },
      'SPOOL DAMAGED: moved aside, the relay continues on a fresh spool; the stanzas it held are not delivered: those read with their sender are bounced (see docs/operator-guide.md, "Spool damage")',
    );
    return lost;
  };
  const lost = check.problem ? aside(check.problem, check.records) : [];
  try {
    return open(check.problem !== undefined, lost);
  } catch (err) {
    if (!isCorruptionError(err)) throw err;
    const more = aside(`lmdb refused to open it: ${(err as Error).message}`, check.records);
    return open(true, more);
  }
}

/**
 * A link's session numbers on disk (docs/link-protocol.md §7), one small JSON
 * file per link: data_dir/link-state/<link>.json
 *
 *   {"format":1,"key":"<key fingerprint>","local":41,"peer":17,"peerV2":true}
 *
 * `local` is the session of this end's latest run: each start takes the next
 * one and stores it (fsync, rename) before the link sends anything, so a
 * session, the nonce prefix, is never used twice under one key. `peer` is the
 * highest partner session accepted: frames of lower ones are replays. A run's
 * session is also at least the wall clock in seconds, so a relay that lost its
 * file (a reinstall, a data_dir lost or restored from an old copy) still starts
 * above every session it used before while its clock is right; with a clock
 * before 2020 it starts at a random one. A new key clears the partner's record.
 */
import { readFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { MAX_SESSION, type LinkEvent, type SessionState } from '../core/index.ts';
import { writeFileDurably } from '../../spool/index.ts';
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';

interface Stored { format: 1; key: string; local: number; peer: number; peerV2: boolean }

/** Why this run has no record of earlier ones. */
export type FreshReason = 'no_file' | 'unreadable' | 'key_changed';

export class SessionStoreError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SessionStoreError';
  }
}

export class SessionStore {
  private constructor(
    private readonly file: string | undefined,
    private readonly key: string,
    private stored: Stored,
  ) {}

  /**
   * Reads the record, takes this run's session and stores it before returning
   * (throws SessionStoreError when it cannot be stored: a session must be on
   * disk before it is used). Without `file`, nothing is kept across runs.
   */
  static begin(file: string | undefined, psk: Buffer, env: { random: (n: number) => Buffer; nowMs: number }, log: Logger): { store: SessionStore; state: SessionState; fresh?: FreshReason } {
    const key = createHash('sha256').update('satrelay-link-state\0').update(psk).digest('hex').slice(0, 16);
    const { prev, fresh } = readRecord(file, key, env.nowMs, log);
    // Without a file, runs of this process under one key still count up (two starts within a second).
    const last = file ? undefined : lastInProcess.get(key);
    const below = prev?.local ?? last;
    const local = Math.max(below !== undefined ? below + 1 : 0, clockSession(env.nowMs) ?? (below !== undefined ? 0 : 1 + (env.random(4).readUInt32BE(0) >>> 1)));
    if (!file) lastInProcess.set(key, local);
    if (local > MAX_SESSION) throw new SessionStoreError(file ?? 'link state', 'session numbers used up under this key: make a new key (satrelay keygen) for both ends');
    const keep = prev?.key === key;
    const store = new SessionStore(file, key, { format: 1, key, local, peer: keep ? prev.peer : 0, peerV2: keep ? prev.peerV2 : false });
    store.write();
    if (file && fresh === 'no_file') log.info({ file, session: local }, 'no link state yet (a first start, an upgrade from a version without sessions, or a lost data_dir): this run starts at a session from the clock and accepts the partner\'s next one');
    const state: SessionState = { local, previous: prev?.local, peer: store.stored.peer, peerV2: store.stored.peerV2 };
    return { store, state, fresh };
  }

  /** Stores the partner's session (synchronously: before the next frame is read). */
  savePeer(peer: number, peerV2: boolean): void {
    this.stored = { ...this.stored, peer, peerV2 };
    this.write();
  }

  /** The core's `session` (store now) and `partner_version` events. */
  onEvent(ev: Extract<LinkEvent, { type: 'session' | 'partner_version' }>, log: Logger, metrics: Metrics, link: string): void {
    if (ev.type === 'partner_version') {
      if (ev.version === 1) log.warn('the partner runs an older satrelay (link protocol v1): talking v1 to it; replay protection across restarts starts once it is upgraded');
      else log.info('the partner speaks link protocol v2 now');
      return;
    }
    try {
      this.savePeer(ev.peer, ev.peerV2);
    } catch (err) {
      metrics.inc('link_state_errors_total', { link });
      log.error({ err: (err as Error).message }, 'could not store the partner\'s session: after a restart, frames of that session from before it may count once more');
    }
  }

  private write(): void {
    if (!this.file) return;
    try {
      writeFileDurably(this.file, JSON.stringify(this.stored) + '\n');
    } catch (err) {
      throw new SessionStoreError(this.file, `cannot store the link session: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
}

/** Sessions taken without a file (tests, benchmarks), per key fingerprint. */
const lastInProcess = new Map<string, number>();

/** 2020-01-01 in seconds: a clock before it is taken as unset. */
const CLOCK_FLOOR_S = 1_577_836_800;

/** The wall clock in whole seconds as a session number (fits 32 bits until 2106), or undefined when the clock is unset. */
export function clockSession(nowMs: number): number | undefined {
  const s = Math.floor(nowMs / 1000);
  return s >= CLOCK_FLOOR_S && s <= MAX_SESSION ? s : undefined;
}

function readRecord(file: string | undefined, key: string, nowMs: number, log: Logger): { prev?: Stored; fresh?: FreshReason } {
  if (!file) return { fresh: 'no_file' };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { fresh: 'no_file' };
    throw new SessionStoreError(file, `cannot read the link state: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const prev = parseRecord(text);
  if (!prev) {
    const aside = `${file}.corrupt-${nowMs}`;
    renameSync(file, aside);
    log.error({ file, movedTo: aside }, 'link state file is damaged: moved aside; this run starts at a session from the clock (if the partner refuses it, see "A relay lost its link state" in the operator guide)');
    return { fresh: 'unreadable' };
  }
  if (prev.key !== key) {
    log.info({ file }, 'link key changed: the record of the partner\'s sessions is cleared');
    return { prev, fresh: 'key_changed' };
  }
  return { prev };
}

function parseRecord(text: string): Stored | undefined {
  try {
    const v = JSON.parse(text) as Partial<Stored>;
    const num = (n: unknown, min: number): n is number => Number.isInteger(n) && (n as number) >= min && (n as number) <= MAX_SESSION;
    if (v.format !== 1 || typeof v.key !== 'string' || !num(v.local, 1) || !num(v.peer, 0) || typeof v.peerV2 !== 'boolean') return undefined;
    return v as Stored;
  } catch {
    return undefined;
  }
}

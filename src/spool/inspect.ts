/**
 * An offline look into a spool (`satrelay spool check`): the same checks the
 * relay runs at start (check.ts), then, read-only, every record's checksum
 * and what each link holds. Changes nothing on disk.
 */
import { open, type Database } from 'lmdb';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkSpoolDir } from './check.ts';
import type { LmdbFileReport } from './lmdb-file.ts';
import { DAMAGED, idOf, linkOf, readState, verifyGroup, verifyIn, verifyOut } from './records.ts';

export interface DamagedRecord {
  store: 'out' | 'in' | 'groups';
  id: string;
  /** The sender a bounce would go to, when its address survived. */
  sender?: string;
}

export interface LinkReport {
  link: string;
  outbound: number;
  outboundBytes: number;
  /** acceptedAt (ms since 1970) of the oldest outbound stanza. */
  oldestAcceptedAt?: number;
  /** Link messages recorded and not yet acknowledged by the partner. */
  messages: number;
  inbound: number;
  deliveredUpTo?: string;
  lastMessageId?: string;
  /** Records without checksums (written by an older version). */
  unchecked: number;
  /** Sequence state that fails its checksum. */
  stateDamaged: boolean;
  damaged: DamagedRecord[];
}

export interface SpoolReport {
  dir: string;
  /** No data.mdb: nothing stored yet. */
  empty: boolean;
  /** Why the relay would move this spool aside at start. */
  problem?: string;
  structure?: LmdbFileReport;
  checkMs: number;
  links: LinkReport[];
}

/** Inspects the spool in `dir` (read-only). Throws SpoolError SPOOL_IO when it cannot be read. */
export function inspectSpool(dir: string): SpoolReport {
  const check = checkSpoolDir(dir);
  const report: SpoolReport = { dir, empty: !existsSync(join(dir, 'data.mdb')), problem: check.problem, structure: check.structure, checkMs: check.ms, links: [] };
  if (report.empty || check.problem) return report;
  const env = open({ path: dir, noSubdir: false, readOnly: true, maxDbs: 8 });
  try {
    const links = new Map<string, LinkReport>();
    const of = (link: string): LinkReport => {
      let r = links.get(link);
      if (!r) links.set(link, (r = { link, outbound: 0, outboundBytes: 0, messages: 0, inbound: 0, unchecked: 0, stateDamaged: false, damaged: [] }));
      return r;
    };
    // Records as stored (binary; records.ts reads both layouts).
    const each = (name: string, fn: (key: Buffer, rec: Buffer | undefined) => void): void => {
      const db = env.openDB<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' }) as Database<Buffer, Buffer> | undefined;
      if (!db) return;
      for (const raw of db.getKeys({}) as Iterable<Buffer>) {
        const key = Buffer.from(raw);
        let rec: Buffer | undefined;
        try {
          rec = db.getBinary(key);
        } catch {
          rec = undefined;
        }
        fn(key, rec);
      }
    };
    each('out', (key, rec) => {
      const r = of(linkOf(key));
      const v = verifyOut(key, rec);
      if (v.stanza === 'damaged') return void r.damaged.push({ store: 'out', id: String(idOf(key)), sender: v.meta?.from });
      if (v.stanza === 'unchecked') r.unchecked++;
      r.outbound++;
      r.outboundBytes += v.bytes!.length;
      const at = v.meta?.acceptedAt;
      if (typeof at === 'number' && (r.oldestAcceptedAt === undefined || at < r.oldestAcceptedAt)) r.oldestAcceptedAt = at;
    });
    each('groups', (key, rec) => {
      const r = of(linkOf(key));
      const v = verifyGroup(key, rec);
      if (v.bytes === 'damaged' || !v.ids) r.damaged.push({ store: 'groups', id: String(idOf(key)) });
      else r.messages++;
    });
    each('in', (key, rec) => {
      const r = of(linkOf(key));
      const v = verifyIn(key, rec);
      if (v.verdict === 'unchecked') r.unchecked++;
      if (v.verdict !== 'damaged') return void r.inbound++;
      for (const p of v.parts.filter((x) => !x.ok)) r.damaged.push({ store: 'in', id: String(idOf(key)), sender: p.head?.from });
      if (v.parts.length === 0) r.damaged.push({ store: 'in', id: String(idOf(key)) });
      if (v.parts.some((x) => x.ok)) r.inbound++;
    });
    const state = env.openDB<Buffer, string>('state', { encoding: 'binary' }) as Database<Buffer, string> | undefined;
    if (state) {
      for (const key of state.getKeys({}) as Iterable<string>) {
        const m = /^(seq|gseq|dut)\0(.+)$/.exec(String(key));
        if (!m) continue;
        const r = of(m[2]);
        const v = readState(state, String(key));
        if (v === DAMAGED) r.stateDamaged = true;
        else if (m[1] === 'dut') r.deliveredUpTo = (v as { d: string }).d;
        else if (m[1] === 'gseq') r.lastMessageId = v as string;
      }
    }
    report.links = [...links.values()].sort((a, b) => a.link.localeCompare(b.link));
  } finally {
    void env.close();
  }
  return report;
}

/** True when the spool, or any record in it, is damaged. */
export function isDamaged(r: SpoolReport): boolean {
  return r.problem !== undefined || r.links.some((l) => l.damaged.length > 0 || l.stateDamaged);
}

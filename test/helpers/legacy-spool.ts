/**
 * A spool as the release before the binary record layout wrote it: lmdb's
 * default msgpack encoding, one object per record, checksums over JSON text
 * (legacy-records.ts reads them). For upgrade tests: records written through
 * the same lmdb calls the old spool made.
 */
import { open, type RootDatabase } from 'lmdb';
import { checksum } from '../../src/spool/record-types.ts';
import type { OutboundMeta, StanzaHead } from '../../src/spool/records.ts';

export const keyOf = (link: string, id: bigint): Buffer => {
  const k = Buffer.alloc(Buffer.byteLength(link) + 9);
  k.write(link, 0, 'utf8');
  k.writeBigUInt64BE(id, k.length - 8);
  return k;
};

const hex = (u?: Uint8Array) => (u ? Buffer.from(u).toString('hex') : null);
const metaText = (m: OutboundMeta) => JSON.stringify([m.priority, m.from ?? null, m.to ?? null, m.acceptedAt, m.kind ?? null, m.sid ?? null, m.type ?? null, hex(m.extra)]);

export class LegacySpool {
  readonly env: RootDatabase;
  private readonly dbs;
  constructor(dir: string) {
    // The options the spool opened its environment with.
    this.env = open({ path: dir, noSubdir: false, noSync: false, overlappingSync: false, noMetaSync: false, maxDbs: 8, eventTurnBatching: false });
    this.dbs = {
      out: this.env.openDB<unknown, Buffer>('out', { keyEncoding: 'binary' }),
      in: this.env.openDB<unknown, Buffer>('in', { keyEncoding: 'binary' }),
      groups: this.env.openDB<unknown, Buffer>('groups', { keyEncoding: 'binary' }),
      state: this.env.openDB<unknown, string>('state', {}),
    };
  }

  /** `damage` stores content other than what was sealed (a disk that changed it). */
  out(link: string, id: bigint, s: Buffer, m: OutboundMeta, opts: { damage?: Buffer; unchecked?: boolean } = {}): void {
    const key = keyOf(link, id);
    const rec = opts.unchecked ? { s, m } : { s: opts.damage ?? s, m, c: checksum(key, s), h: checksum(key, metaText(m)) };
    this.dbs.out.putSync(key, rec);
  }

  group(link: string, gid: bigint, ids: bigint[], s: Buffer, p: 'high' | 'low'): void {
    const key = keyOf(link, gid);
    const sids = ids.map(String);
    this.dbs.groups.putSync(key, { ids: sids, s, p, c: checksum(key, s), h: checksum(key, JSON.stringify([sids, p])) });
  }

  /** An inbound record of `parts`; `damage[i]` replaces part i's stored bytes. */
  in(link: string, id: bigint, parts: Array<{ s: Buffer; head?: StanzaHead; damage?: Buffer }>): void {
    const key = keyOf(link, id);
    const l = parts.map((p) => p.s.length);
    const hs = parts.map((p) => p.head ?? null);
    const heads = JSON.stringify([l, hs.map((h) => (h ? [h.kind, h.id ?? null, h.from ?? null, h.to ?? null, h.type ?? null] : null)), null]);
    this.dbs.in.putSync(key, { s: Buffer.concat(parts.map((p) => p.damage ?? p.s)), l, c: parts.map((p) => checksum(key, p.s)), hs, h: checksum(key, heads) });
  }

  state(key: string, v: unknown): void {
    this.dbs.state.putSync(key, { v, c: checksum(Buffer.from(key, 'utf8'), JSON.stringify(v)) });
  }

  close(): Promise<void> {
    return this.env.close();
  }
}

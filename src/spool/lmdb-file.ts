/**
 * A structural check of an lmdb data file (data.mdb) in plain TypeScript:
 * nothing here runs lmdb's C code, so a damaged file yields a finding, never
 * a crash. lmdb trusts its pages: a flipped byte in a meta page or 64 random
 * bytes in a page made the relay die (SIGSEGV, glibc abort) or silently see
 * an empty spool. Layout as in lmdb-js's liblmdb (mdb.c):
 *
 *   page header (24 bytes):  pgno u64 | txnid u64 | pad u16 | flags u16 | lower u16 | upper u16
 *                            (overflow pages: lower/upper hold the page count, u32)
 *   meta (pages 0 and 1, at 24): magic u32 | version u32 | address u64 | mapsize u64
 *                            | dbs[2] (FREE, MAIN) of 48 bytes | last_pg u64 | txnid u64 | boot_id
 *   db (48 bytes):           pad u32 (FREE: page size) | flags u16 | depth u16 | branch u64
 *                            | leaf u64 | overflow u64 | entries u64 | root u64
 *   node (8 + key + data):   lo u16 | hi u16 | flags u16 | ksize u16  (branch: child pgno in lo/hi/flags)
 *
 * Checked: both meta pages, the newer one's trees (free list, main, each
 * named database): page numbers, page types, node bounds, key order, depth,
 * page/entry counts, overflow runs, free-list entries, and that no page is
 * used twice or both used and free. Pages neither used nor free are counted
 * (`leaked`) but are no finding.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const HDR = 24;
const NODE = 8;
const P_BRANCH = 0x01, P_LEAF = 0x02, P_OVERFLOW = 0x04, P_META = 0x08, P_LEAF2 = 0x20;
const F_BIGDATA = 0x01, F_SUBDATA = 0x02, F_DUPDATA = 0x04;
const MDB_DUPSORT = 0x04, MDB_INTEGERKEY = 0x08, MDB_REVERSEKEY = 0x02;
const P_INVALID = (1n << 64n) - 1n;
const MAX_DEPTH = 32;

export interface LmdbFileReport {
  /** First finding; undefined when the file is sound. */
  problem?: string;
  pageSize: number;
  pages: number;
  used: number;
  free: number;
  leaked: number;
  /** Entries per named database (as found in its tree). */
  entries: Record<string, number>;
  /** Damage lmdb does not act on (page and entry statistics in a tree header). */
  warnings: string[];
}

interface Db { flags: number; depth: number; branch: bigint; leaf: bigint; overflow: bigint; entries: bigint; root: bigint }

class Finding extends Error {}

function readDb(b: Buffer, at: number): Db {
  return {
    flags: b.readUInt16LE(at + 4),
    depth: b.readUInt16LE(at + 6),
    branch: b.readBigUInt64LE(at + 8),
    leaf: b.readBigUInt64LE(at + 16),
    overflow: b.readBigUInt64LE(at + 24),
    entries: b.readBigUInt64LE(at + 32),
    root: b.readBigUInt64LE(at + 40),
  };
}

class Pages {
  readonly count: number;
  private readonly fd: number;
  constructor(path: string, readonly size: number) {
    this.fd = openSync(path, 'r');
    this.count = Math.floor(fstatSync(this.fd).size / size);
  }
  read(pgno: number, n = 1): Buffer {
    const b = Buffer.alloc(this.size * n);
    const got = readSync(this.fd, b, 0, b.length, pgno * this.size);
    if (got !== b.length) throw new Finding(`page ${pgno} lies beyond the end of the file`);
    return b;
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Checks `path` (a data.mdb); never throws for a damaged file, only for I/O errors opening it. */
export function checkLmdbFile(path: string): LmdbFileReport {
  const report: LmdbFileReport = { pageSize: 0, pages: 0, used: 0, free: 0, leaked: 0, entries: {}, warnings: [] };
  const head = Buffer.alloc(HDR + 144);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, head, 0, head.length, 0) !== head.length) return { ...report, problem: 'file shorter than a meta page' };
  } finally {
    closeSync(fd);
  }
  const psize = head.readUInt32LE(HDR + 24);
  if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) return { ...report, problem: `meta page 0: page size ${psize} is not a power of two in 512..65536` };
  report.pageSize = psize;
  const pages = new Pages(path, psize);
  try {
    new Walk(pages, report).run();
  } catch (err) {
    if (!(err instanceof Finding) && !(err instanceof RangeError)) throw err;
    report.problem = err.message;
  } finally {
    pages.close();
  }
  return report;
}

class Walk {
  private readonly seen: Uint8Array;
  private lastPg = 0;
  private readonly freePages: number[] = [];

  constructor(private readonly pages: Pages, private readonly report: LmdbFileReport) {
    report.pages = pages.count;
    this.seen = new Uint8Array(pages.count);
  }

  run(): void {
    if (this.pages.count < 2) throw new Finding('file shorter than two meta pages');
    const metas = [this.meta(0), this.meta(1)];
    const m = metas[0].txnid >= metas[1].txnid ? metas[0] : metas[1]; // lmdb's mdb_pick_meta
    // lmdb reads page 0's header fields at every open, and uses the newer meta (page 1 may be the older, unused one).
    for (const bad of [metas[0].bad, m.bad]) if (bad) throw new Finding(bad);
    this.lastPg = m.lastPg;
    if (m.lastPg < 1 || m.lastPg >= this.pages.count + 1_000_000) throw new Finding(`meta: last page ${m.lastPg} is implausible for a file of ${this.pages.count} pages`);
    this.seen[0] = this.seen[1] = 1;
    this.tree('(free list)', m.free, 'free');
    this.tree('(main)', m.main, 'main');
    const freeSet = new Set<number>();
    for (const p of this.freePages) {
      if (freeSet.has(p)) throw new Finding(`free list names page ${p} twice`);
      if (p < this.seen.length && this.seen[p]) throw new Finding(`page ${p} is both in use and in the free list`);
      freeSet.add(p);
    }
    const used = this.seen.reduce((a, v) => a + v, 0);
    this.report.used = used;
    this.report.free = freeSet.size;
    this.report.leaked = Math.max(0, this.lastPg + 1 - used - freeSet.size);
  }

  private meta(i: number): { txnid: bigint; lastPg: number; free: Db; main: Db; bad?: string } {
    const b = this.pages.read(i);
    const m = { free: readDb(b, HDR + 24), main: readDb(b, HDR + 72), lastPg: Number(b.readBigUInt64LE(HDR + 120)), txnid: b.readBigUInt64LE(HDR + 128) };
    const version = b.readUInt32LE(HDR + 4) & 0xffff;
    const bad = !(b.readUInt16LE(18) & P_META)
      ? `page ${i} is not a meta page`
      : b.readUInt32LE(HDR) !== MAGIC
        ? `meta page ${i}: bad magic`
        : version !== DATA_VERSION
          ? `meta page ${i}: data version ${version}, expected ${DATA_VERSION}`
          : b.readUInt32LE(HDR + 24) !== this.pages.size
            ? `meta page ${i}: page size differs from meta page 0`
            : undefined;
    return bad ? { ...m, bad } : m;
  }

  private tree(name: string, db: Db, kind: 'free' | 'main' | 'named'): void {
    const counts = { branch: 0n, leaf: 0n, overflow: 0n, entries: 0n };
    if (db.root === P_INVALID) {
      if (db.depth !== 0 || db.entries !== 0n) throw new Finding(`${name}: empty tree with depth ${db.depth} and ${db.entries} entries`);
    } else {
      this.page(name, db, kind, this.pgno(name, db.root), 1, counts);
    }
    if (counts.branch !== db.branch || counts.leaf !== db.leaf || counts.overflow !== db.overflow || counts.entries !== db.entries) {
      // Statistics only (lmdb adds to them, never reads them to find data): noted, not fatal.
      this.report.warnings.push(
        `${name}: header says ${db.branch}/${db.leaf}/${db.overflow} branch/leaf/overflow pages and ${db.entries} entries, the tree has ${counts.branch}/${counts.leaf}/${counts.overflow} and ${counts.entries}`,
      );
    }
    if (kind === 'named') this.report.entries[name] = Number(counts.entries);
  }

  private pgno(name: string, v: bigint): number {
    if (v < 2n || v > BigInt(this.lastPg)) throw new Finding(`${name}: page number ${v} outside 2..${this.lastPg}`);
    const p = Number(v);
    if (p >= this.pages.count) throw new Finding(`${name}: page ${p} lies beyond the end of the file`);
    return p;
  }

  private mark(name: string, p: number): void {
    if (this.seen[p]) throw new Finding(`${name}: page ${p} is used twice`);
    this.seen[p] = 1;
  }

  private page(name: string, db: Db, kind: 'free' | 'main' | 'named', p: number, depth: number, counts: { branch: bigint; leaf: bigint; overflow: bigint; entries: bigint }): void {
    if (depth > MAX_DEPTH || depth > db.depth) throw new Finding(`${name}: page ${p} at depth ${depth}, tree depth ${db.depth}`);
    this.mark(name, p);
    const b = this.pages.read(p);
    const psize = this.pages.size;
    if (b.readBigUInt64LE(0) !== BigInt(p)) throw new Finding(`${name}: page ${p} says it is page ${b.readBigUInt64LE(0)}`);
    const flags = b.readUInt16LE(18) & ~0xe000; // high bits are in-memory administration
    const lower = b.readUInt16LE(20);
    const upper = b.readUInt16LE(22);
    const branch = flags === P_BRANCH;
    if (!branch && flags !== P_LEAF) throw new Finding(`${name}: page ${p} has page flags 0x${flags.toString(16)}, expected a branch or leaf page`);
    if (flags & P_LEAF2) throw new Finding(`${name}: page ${p} is a fixed-size leaf (not used by the spool)`);
    const n = lower >> 1;
    if (lower & 1 || n === 0 || lower > upper || HDR + upper > psize) throw new Finding(`${name}: page ${p} has bad bounds (lower ${lower}, upper ${upper})`);
    if (branch) counts.branch++;
    else {
      counts.leaf++;
      if (depth !== db.depth) throw new Finding(`${name}: leaf page ${p} at depth ${depth}, tree depth ${db.depth}`);
    }
    let prev: Buffer | undefined;
    for (let i = 0; i < n; i++) {
      const at = HDR + b.readUInt16LE(HDR + 2 * i);
      if (at < HDR + upper || at + NODE > psize) throw new Finding(`${name}: page ${p} node ${i} lies outside the page`);
      const lo = b.readUInt16LE(at), hi = b.readUInt16LE(at + 2), nflags = b.readUInt16LE(at + 4), ksize = b.readUInt16LE(at + 6);
      const keyEnd = at + NODE + ksize;
      if (keyEnd > psize) throw new Finding(`${name}: page ${p} node ${i} key runs past the page`);
      const key = b.subarray(at + NODE, keyEnd);
      if (!(branch && i === 0)) {
        if (prev && compare(prev, key, kind === 'free' ? MDB_INTEGERKEY : db.flags) >= 0) throw new Finding(`${name}: page ${p} keys out of order at node ${i}`);
        prev = key;
      }
      if (branch) {
        const child = BigInt(lo) | (BigInt(hi) << 16n) | (BigInt(nflags) << 32n);
        this.page(name, db, kind, this.pgno(name, child), depth + 1, counts);
        continue;
      }
      counts.entries++;
      this.leafNode(name, db, kind, { p, i, key, nflags, dsize: lo | (hi << 16), at: keyEnd, page: b }, counts);
    }
  }

  private leafNode(
    name: string,
    db: Db,
    kind: 'free' | 'main' | 'named',
    n: { p: number; i: number; key: Buffer; nflags: number; dsize: number; at: number; page: Buffer },
    counts: { overflow: bigint },
  ): void {
    const where = `${name}: page ${n.p} node ${n.i}`;
    if (n.nflags & ~(F_BIGDATA | F_SUBDATA | F_DUPDATA)) throw new Finding(`${where} has node flags 0x${n.nflags.toString(16)}`);
    if (n.nflags & F_DUPDATA && !(db.flags & MDB_DUPSORT)) throw new Finding(`${where} has duplicates in a database without them`);
    let data: Buffer;
    if (n.nflags & F_BIGDATA) {
      if (n.at + 24 > this.pages.size) throw new Finding(`${where} overflow reference runs past the page`);
      const first = this.pgno(where, n.page.readBigUInt64LE(n.at));
      const count = Number(n.page.readBigUInt64LE(n.at + 16));
      const want = Math.floor((HDR - 1 + n.dsize) / this.pages.size) + 1;
      if (count !== want || first + count - 1 > this.lastPg || first + count > this.pages.count) throw new Finding(`${where}: overflow run of ${count} pages at ${first} does not fit ${n.dsize} bytes`);
      const ov = this.pages.read(first, kind === 'named' ? 1 : count);
      if (ov.readBigUInt64LE(0) !== BigInt(first) || !(ov.readUInt16LE(18) & P_OVERFLOW) || ov.readUInt32LE(20) !== count) throw new Finding(`${where}: page ${first} is not its overflow run`);
      for (let k = 0; k < count; k++) this.mark(where, first + k);
      counts.overflow += BigInt(count);
      data = kind === 'named' ? Buffer.alloc(0) : ov.subarray(HDR, HDR + n.dsize);
    } else {
      if (n.at + n.dsize > this.pages.size) throw new Finding(`${where} data runs past the page`);
      data = n.page.subarray(n.at, n.at + n.dsize);
    }
    if (kind === 'free') return this.freeEntry(where, n.key, data);
    if (kind === 'main' && n.nflags & F_SUBDATA) {
      if (n.nflags & F_BIGDATA || data.length !== 48) throw new Finding(`${where}: named database record of ${data.length} bytes`);
      this.tree(n.key.toString('utf8').replace(/\0$/, ''), readDb(data, 0), 'named');
    }
  }

  private freeEntry(where: string, key: Buffer, data: Buffer): void {
    if (key.length !== 8) throw new Finding(`${where}: free-list key of ${key.length} bytes, expected 8`);
    if (data.length < 8 || data.length % 8 !== 0) throw new Finding(`${where}: free-list entry of ${data.length} bytes`);
    // lmdb-js's free lists (midl.c): a count, then ids; 0 is an empty slot, -n before an id p is the run p..p+n-1.
    const count = data.readBigUInt64LE(0);
    if (count > BigInt(data.length / 8 - 1)) throw new Finding(`${where}: free-list entry says ${count} ids, has room for ${data.length / 8 - 1}`);
    const end = 8 + Number(count) * 8;
    for (let k = 8; k < end; k += 8) {
      const v = data.readBigInt64LE(k);
      if (v === 0n) continue;
      let run = 1n;
      let first = v;
      if (v < 0n) {
        k += 8;
        if (k >= end) throw new Finding(`${where}: free-list run without its first page`);
        run = -v;
        first = data.readBigInt64LE(k);
      }
      if (first < 2n || first + run - 1n > BigInt(this.lastPg) || run > 1_000_000_000n) throw new Finding(`${where}: free-list pages ${first}..${first + run - 1n} outside 2..${this.lastPg}`);
      for (let q = 0n; q < run; q++) this.freePages.push(Number(first + q));
    }
  }
}

/** lmdb's key order: memcmp, integer keys as native (little-endian) unsigned numbers, reverse keys from the end. */
function compare(a: Buffer, b: Buffer, flags: number): number {
  if (flags & MDB_INTEGERKEY && a.length === b.length && (a.length === 8 || a.length === 4)) {
    const x = a.length === 8 ? a.readBigUInt64LE(0) : BigInt(a.readUInt32LE(0));
    const y = b.length === 8 ? b.readBigUInt64LE(0) : BigInt(b.readUInt32LE(0));
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (flags & MDB_REVERSEKEY) return Buffer.compare(Buffer.from(a).reverse(), Buffer.from(b).reverse());
  return Buffer.compare(a, b);
}

/**
 * Damage for spool tests, done to a closed spool's data.mdb the way a failing
 * disk or an attacker would: a flipped byte in the current meta page, random
 * bytes over a page, one changed byte inside a stored record.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const META_TXNID = 24 + 128; // page header, then MDB_meta up to mm_txnid (src/spool/lmdb-file.ts)

function file(dir: string): string {
  return join(dir, 'data.mdb');
}

/** Offset of the meta page lmdb uses (the one with the higher txnid). */
export function currentMetaOffset(dir: string): number {
  const b = readFileSync(file(dir));
  const psize = b.readUInt32LE(24 + 24);
  return b.readBigUInt64LE(META_TXNID) >= b.readBigUInt64LE(psize + META_TXNID) ? 0 : psize;
}

/** XORs one byte of the current meta page (offset from the page start) with `mask`. */
export function flipMetaByte(dir: string, offset: number, mask: number): void {
  const b = readFileSync(file(dir));
  b[currentMetaOffset(dir) + offset] ^= mask;
  writeFileSync(file(dir), b);
}

/** Overwrites `length` bytes at `offset` of page `page` with seeded pseudo-random bytes. */
export function smashPage(dir: string, page: number, offset: number, length: number, seed: number): void {
  const b = readFileSync(file(dir));
  const psize = b.readUInt32LE(24 + 24);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[page * psize + offset + i] = s >>> 24;
  }
  writeFileSync(file(dir), b);
}

/**
 * Replaces the byte at `at` within every occurrence of `needle` in data.mdb (stale
 * copies in free pages included); returns how many were changed.
 */
export function changeByteIn(dir: string, needle: string, at: number, to: string): number {
  const b = readFileSync(file(dir));
  const n = Buffer.from(needle);
  let count = 0;
  for (let i = b.indexOf(n); i >= 0; i = b.indexOf(n, i + 1)) {
    b[i + at] = to.charCodeAt(0);
    count++;
  }
  writeFileSync(file(dir), b);
  return count;
}

/** Page number of the root of named database `name` (read from the main tree's root leaf). */
export function rootPageOf(dir: string, name: string): number {
  const b = readFileSync(file(dir));
  const meta = currentMetaOffset(dir);
  const psize = b.readUInt32LE(24 + 24);
  const mainRoot = Number(b.readBigUInt64LE(meta + 24 + 72 + 40));
  const page = mainRoot * psize;
  const n = b.readUInt16LE(page + 20) >> 1;
  for (let i = 0; i < n; i++) {
    const node = page + 24 + b.readUInt16LE(page + 24 + 2 * i);
    const ksize = b.readUInt16LE(node + 6);
    if (b.subarray(node + 8, node + 8 + ksize).toString().replace(/\0$/, '') === name) return Number(b.readBigUInt64LE(node + 8 + ksize + 40));
  }
  throw new Error(`no database ${name} in the main tree's root page`);
}

/** Points the free list's root in the current meta page at the main tree's root: one page then seems used twice. */
export function crossFreeListRoot(dir: string): void {
  const b = readFileSync(file(dir));
  const meta = currentMetaOffset(dir);
  b.writeBigUInt64LE(b.readBigUInt64LE(meta + 24 + 72 + 40), meta + 24 + 24 + 40);
  writeFileSync(file(dir), b);
}

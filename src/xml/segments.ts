/**
 * The stream's input kept as decoded pieces beside their bytes, from the
 * start of the stanza being received: maps saxes's character positions to
 * stream byte offsets and copies a stanza's exact bytes out (its `raw`).
 */
export interface Seg {
  c0: number; // global char index of s[0]
  b0: number; // global byte offset of buf[0]
  s: string;
  buf: Buffer;
  ascii: boolean;
  cc: number; // cursor: char offset within s ...
  cb: number; // ... and its byte offset within buf
}

export class Segments {
  private segs: Seg[] = [];

  add(c0: number, b0: number, s: string, buf: Buffer): Seg {
    const seg: Seg = { c0, b0, s, buf, ascii: s.length === buf.length, cc: 0, cb: 0 };
    this.segs.push(seg);
    return seg;
  }

  /** Forgets the pieces wholly before byte `keep`. */
  prune(keep: number): void {
    let k = 0;
    while (k < this.segs.length && this.segs[k].b0 + this.segs[k].buf.length <= keep) k++;
    if (k) this.segs.splice(0, k);
  }

  seg(p: number): Seg | undefined {
    for (let k = this.segs.length - 1; k >= 0; k--) {
      const s = this.segs[k];
      if (p >= s.c0 && p <= s.c0 + s.s.length) return s;
    }
    return undefined;
  }

  charAt(p: number): string {
    const s = this.seg(p);
    return s ? s.s.charAt(p - s.c0) : '';
  }

  charToByte(p: number): number {
    const s = this.seg(p);
    if (!s) return this.end(); // not reachable: positions asked for are retained
    const c = p - s.c0;
    if (s.ascii) return s.b0 + c;
    // move the cursor; positions asked for are close to each other
    if (c < s.cc) s.cb -= Buffer.byteLength(s.s.slice(c, s.cc));
    else s.cb += Buffer.byteLength(s.s.slice(s.cc, c));
    s.cc = c;
    return s.b0 + s.cb;
  }

  /** Stream bytes [from, to) as a new Buffer, with `ins` spliced in at offset `at`. */
  bytes(from: number, to: number, ins = '', at = 0): Buffer {
    const insBuf = ins ? Buffer.from(ins, 'utf8') : undefined;
    const out = Buffer.allocUnsafe(to - from + (insBuf ? insBuf.length : 0));
    let o = 0;
    for (const s of this.segs) {
      const a = Math.max(from, s.b0);
      const b = Math.min(to, s.b0 + s.buf.length);
      if (a >= b) continue;
      if (insBuf && a - from <= at && at < b - from) {
        // the splice point falls in this segment
        const mid = from + at;
        o += s.buf.copy(out, o, a - s.b0, mid - s.b0);
        o += insBuf.copy(out, o);
        o += s.buf.copy(out, o, mid - s.b0, b - s.b0);
      } else {
        o += s.buf.copy(out, o, a - s.b0, b - s.b0);
      }
    }
    return out;
  }

  /** Byte offset just past the last piece. */
  private end(): number {
    const s = this.segs[this.segs.length - 1];
    return s ? s.b0 + s.buf.length : 0;
  }
}

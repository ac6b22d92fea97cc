/**
 * Incremental UTF-8 splitting (RFC 3629): cuts a byte buffer at the last
 * complete code point and finds the first invalid sequence. The parser decodes
 * only whole, valid code points, so a character split across chunks is never
 * corrupted and an invalid byte is reported at its exact position.
 */
import { isUtf8 } from 'node:buffer';

/** Length of the sequence a lead byte announces; 0 for a byte that cannot lead. */
function seqLen(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/**
 * Index where an incomplete trailing sequence starts (buf.length when the
 * buffer ends on a code point boundary or the tail is invalid anyway).
 */
export function completeLength(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= 3 && back <= n; back++) {
    const b = buf[n - back];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const len = seqLen(b);
    return len > back ? n - back : n;
  }
  return n;
}

/** Index of the first byte that starts an invalid sequence, or -1 when valid. */
export function firstInvalid(buf: Buffer): number {
  if (isUtf8(buf)) return -1;
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const b = buf[i];
    const len = seqLen(b);
    if (len === 0 || i + len > n) return i;
    if (len > 1) {
      const b1 = buf[i + 1];
      // second-byte ranges exclude overlongs and surrogates (RFC 3629 §4)
      const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      if (b1 < lo || b1 > hi) return i;
      for (let k = 2; k < len; k++) if ((buf[i + k] & 0xc0) !== 0x80) return i;
    }
    i += len;
  }
  return -1;
}

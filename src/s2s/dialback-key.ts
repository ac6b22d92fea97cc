/**
 * Dialback keys, XEP-0185 §2 (recommended algorithm, adopted by XEP-0220 §2.1):
 *   key = HEX( HMAC-SHA256( HEX(SHA256(secret)), receiving ' ' originating ' ' streamId ) )
 * The HMAC key is the lower-case hex text of SHA256(secret), as in the XEP-0185
 * §3 worked example (and Prosody); using the raw digest gives different keys.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Dialback key the authoritative server issues for (receiving, originating, streamId). */
export function dialbackKey(secret: Buffer, receiving: string, originating: string, streamId: string): string {
  const k = createHash('sha256').update(secret).digest('hex');
  return createHmac('sha256', k).update(`${receiving} ${originating} ${streamId}`, 'utf8').digest('hex');
}

/** Constant-time check of a received key (whitespace around it ignored, hex case-insensitive). */
export function verifyDialbackKey(secret: Buffer, receiving: string, originating: string, streamId: string, key: string): boolean {
  const want = Buffer.from(dialbackKey(secret, receiving, originating, streamId), 'utf8');
  const got = Buffer.from(key.trim().toLowerCase(), 'utf8');
  // Length is not secret (always 64 hex digits for a well-formed key).
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Frame protection: ChaCha20-Poly1305 (RFC 8439) with per-direction keys
 * derived by HKDF-SHA256 (RFC 5869) from the pre-shared key.
 *   key(a->b) = HKDF(ikm=PSK, salt="satrelay-link-v1", info="a>b", 32)
 *   nonce     = epoch (u32 BE) || seq (u64 BE)           12 bytes, never reused
 *   AAD       = the cleartext header [|| receiver epoch u32 BE when flag E]
 */
import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';

export const TAG_BYTES = 16;
const SALT = Buffer.from('satrelay-link-v1');

export interface DirectionKeys { send: Buffer; recv: Buffer }

/** Direction keys of link protocol v1 (`salt` "satrelay-link-v1"); v2 passes its own salt (sealing.ts). */
export function deriveKeys(psk: Buffer, role: 'a' | 'b', salt: Buffer = SALT): DirectionKeys {
  const ab = Buffer.from(hkdfSync('sha256', psk, salt, Buffer.from('a>b'), 32));
  const ba = Buffer.from(hkdfSync('sha256', psk, salt, Buffer.from('b>a'), 32));
  return role === 'a' ? { send: ab, recv: ba } : { send: ba, recv: ab };
}

export function nonceOf(epoch: number, seq: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(epoch >>> 0, 0);
  n.writeBigUInt64BE(BigInt(seq), 4);
  return n;
}

export function seal(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad, { plaintextLength: plain.length });
  const body = c.update(plain);
  c.final();
  return Buffer.concat([body, c.getAuthTag()]);
}

/** Returns the plaintext, or undefined when authentication fails. */
export function open(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < TAG_BYTES) return undefined;
  const body = sealed.subarray(0, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    d.setAAD(aad, { plaintextLength: body.length });
    d.setAuthTag(tag);
    const out = d.update(body);
    d.final();
    return out;
  } catch {
    return undefined;
  }
}

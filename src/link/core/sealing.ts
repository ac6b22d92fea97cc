/**
 * Sealing and opening frames (docs/link-protocol.md §7): ChaCha20-Poly1305
 * (RFC 8439) with one key per direction and wire version, from HKDF-SHA256
 * (RFC 5869) over the pre-shared key:
 *   v2: K(a->b) = HKDF(ikm=PSK, salt="satrelay-link-v2", info="a>b", 32)
 *   v1: salt "satrelay-link-v1" (crypto.ts), only towards a partner not yet upgraded
 *   nonce = session u32 BE || seq u64 BE
 *   AAD   = header [|| the receiver's session u32 BE when flag E is set]
 * Scratch buffers are reused and a failed open builds no stack trace, so a
 * flood of forged frames costs the AEAD and little else.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { TAG_BYTES, deriveKeys, type DirectionKeys } from './crypto.ts';
import type { Header } from './wire.ts';

const SALT_V2 = Buffer.from('satrelay-link-v2');
const MAX_HEADER = 13;

export function deriveKeysV2(psk: Buffer, role: 'a' | 'b'): DirectionKeys {
  return deriveKeys(psk, role, SALT_V2);
}

export class FrameSealer {
  private readonly keys: Record<1 | 2, DirectionKeys>;
  private readonly nonce = Buffer.alloc(12);
  private readonly aad = Buffer.alloc(MAX_HEADER + 4);

  constructor(psk: Buffer, role: 'a' | 'b') {
    this.keys = { 1: deriveKeys(psk, role), 2: deriveKeysV2(psk, role) };
  }

  /** Header bytes (as encoded) followed by the sealed body and tag. */
  seal(version: 1 | 2, session: number, seq: number, hdr: Buffer, binding: number | undefined, plain: Buffer): Buffer {
    const c = createCipheriv('chacha20-poly1305', this.keys[version].send, this.setNonce(session, seq), { authTagLength: TAG_BYTES });
    c.setAAD(this.setAad(hdr, hdr.length, binding), { plaintextLength: plain.length });
    const body = c.update(plain);
    c.final();
    return Buffer.concat([hdr, body, c.getAuthTag()]);
  }

  /** The plaintext, or undefined when the frame does not authenticate (bound to `binding` when it has E). */
  open(h: Header, frame: Buffer, binding: number | undefined): Buffer | undefined {
    if (h.e && binding === undefined) return undefined;
    const end = frame.length - TAG_BYTES;
    const d = createDecipheriv('chacha20-poly1305', this.keys[h.version].recv, this.setNonce(h.session, h.seq), { authTagLength: TAG_BYTES });
    d.setAAD(this.setAad(frame, h.length, h.e ? binding : undefined), { plaintextLength: end - h.length });
    d.setAuthTag(frame.subarray(end));
    const out = d.update(frame.subarray(h.length, end));
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // the failure is expected under attack: no stack to build
    try {
      d.final();
      return out;
    } catch {
      return undefined;
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  private setNonce(session: number, seq: number): Buffer {
    this.nonce.writeUInt32BE(session >>> 0, 0);
    this.nonce.writeUInt32BE(Math.floor(seq / 2 ** 32), 4);
    this.nonce.writeUInt32BE(seq >>> 0, 8);
    return this.nonce;
  }

  private setAad(src: Uint8Array, hdrLen: number, binding: number | undefined): Buffer {
    this.aad.set(src.subarray(0, hdrLen), 0);
    if (binding === undefined) return this.aad.subarray(0, hdrLen);
    this.aad.writeUInt32BE(binding >>> 0, hdrLen);
    return this.aad.subarray(0, hdrLen + 4);
  }
}

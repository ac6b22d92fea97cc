/** Builds the wire test vectors of docs/link-protocol.md from fixed inputs (deterministic). */
import { LinkEndpoint, type LinkOptions, type LinkTuning, type ZlibImpl } from '../../../src/link/core/index.ts';

export const VECTOR_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
export const VECTOR_TUNING: LinkTuning = { mtu: 256, windowFrames: 4, rtoMinMs: 500, rtoMaxMs: 60_000, ackDelayMs: 50, keepaliveS: 0, compressionLevel: 6 };
export const VECTOR_STANZA = '<message type="chat" from="alice@a.example/x" to="bob@b.example" id="v1"><body>Hello</body></message>';

/**
 * The vectors' compressed bytes are pako's (level 6): deflate implementations
 * may encode the same input differently, all valid; pako's output is fixed
 * by its pinned version. The endpoints' default (native zlib) reads them.
 */
export function vectorEndpoint(role: 'a' | 'b', session = role === 'a' ? 0x01020304 : 0x0a0b0c0d, zlib: ZlibImpl = 'pako'): LinkEndpoint {
  const opts: LinkOptions = {
    tuning: VECTOR_TUNING, key: VECTOR_KEY, role,
    localDomains: role === 'a' ? ['a.example'] : ['b.example'],
    remoteDomains: role === 'a' ? ['b.example'] : ['a.example'],
    random: (n) => { const b = Buffer.alloc(n); b.writeUInt32BE(session, 0); return b; },
    session: { local: session },
    zlib,
  };
  return new LinkEndpoint(opts, 0);
}

/** f1: a's first frame (stanza id 1); f2: b's announce (PING); f3: b's ACK + MSGACK after confirming id 1; f4: f1's twin from a's previous session. */
export function buildVectors(): { f1: Buffer; f2: Buffer; f3: Buffer; f4: Buffer } {
  const a = vectorEndpoint('a');
  const b = vectorEndpoint('b');
  a.submit(1n, Buffer.from(VECTOR_STANZA), 'high', 0);
  const f1 = a.pollTransmit(0)!;
  const f2 = b.pollTransmit(0)!;
  b.handleFrame(10, f1);
  for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'deliver') b.confirmDelivered(e.id, 10);
  const f3 = b.pollTransmit(60)!;
  const earlier = vectorEndpoint('a', 0x01020303);
  earlier.submit(1n, Buffer.from(VECTOR_STANZA), 'high', 0);
  const f4 = earlier.pollTransmit(0)!;
  return { f1, f2, f3, f4 };
}

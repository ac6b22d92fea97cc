/** Builds the wire test vectors of docs/link-protocol.md from fixed inputs (deterministic). */
import { LinkEndpoint, type LinkOptions, type LinkTuning } from '../../../src/link/core/index.ts';

export const VECTOR_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
export const VECTOR_TUNING: LinkTuning = { mtu: 256, windowFrames: 4, rtoMinMs: 500, rtoMaxMs: 60_000, ackDelayMs: 50, keepaliveS: 0, compressionLevel: 6 };
export const VECTOR_STANZA = '<message type="chat" from="alice@a.example/x" to="bob@b.example" id="v1"><body>Hello</body></message>';

export function vectorEndpoint(role: 'a' | 'b'): LinkEndpoint {
  const epoch = role === 'a' ? 0x01020304 : 0x0a0b0c0d;
  const opts: LinkOptions = {
    tuning: VECTOR_TUNING, key: VECTOR_KEY, role,
    localDomains: role === 'a' ? ['a.example'] : ['b.example'],
    remoteDomains: role === 'a' ? ['b.example'] : ['a.example'],
    random: (n) => { const b = Buffer.alloc(n); b.writeUInt32BE(epoch, 0); return b; },
  };
  return new LinkEndpoint(opts, 0);
}

/** v1: a's first frame (stanza id 1); v2: b's announce (PING); v3: b's ACK + MSGACK after confirming id 1. */
export function buildVectors(): { v1: Buffer; v2: Buffer; v3: Buffer } {
  const a = vectorEndpoint('a');
  const b = vectorEndpoint('b');
  a.submit(1n, Buffer.from(VECTOR_STANZA), 'high');
  const v1 = a.pollTransmit(0)!;
  const v2 = b.pollTransmit(0)!;
  b.handleFrame(10, v1);
  for (let e = b.pollEvent(); e; e = b.pollEvent()) if (e.type === 'deliver') b.confirmDelivered(e.id);
  const v3 = b.pollTransmit(60)!;
  return { v1, v2, v3 };
}

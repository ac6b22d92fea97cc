/**
 * Message-layer compression: one persistent raw-deflate context per direction
 * (RFC 1951), primed with a preset dictionary of common XMPP strings and the
 * link's domains. Each message is pushed with Z_SYNC_FLUSH so it ends on a
 * byte boundary; the 4-byte empty stored block 00 00 FF FF that a sync flush
 * always ends with is stripped by the sender and re-added by the receiver.
 * Messages are compressed in msn (stream) order and inflated in the same
 * order, so loss and retransmission never desynchronise the two contexts.
 */
import { deflateContext, inflateContext, type RawContext, type ZlibImpl } from './zstream.ts';

const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Most frequent strings last: deflate finds nearer matches cheaper. */
const XMPP_STRINGS = [
  'urn:xmpp:receipts', 'urn:xmpp:chat-markers:0', 'urn:xmpp:sid:0', 'urn:xmpp:hints',
  'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items',
  'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/muc#user', 'http://jabber.org/protocol/muc',
  'http://jabber.org/protocol/chatstates', 'urn:xmpp:ping', 'urn:xmpp:delay', 'jabber:iq:roster', 'vcard-temp',
  '<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error>',
  '<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="',
  '<x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="member" role="participant"/></x>',
  '<iq type="result" id="', '<iq type="get" id="', '<iq type="set" id="', '<query xmlns="',
  '<delay xmlns="urn:xmpp:delay" stamp="', '<request xmlns="urn:xmpp:receipts"/>', '<received xmlns="urn:xmpp:receipts" id="',
  '<origin-id xmlns="urn:xmpp:sid:0" id="', '<stanza-id xmlns="urn:xmpp:sid:0" id="', '<markable xmlns="urn:xmpp:chat-markers:0"/>',
  '<active xmlns="http://jabber.org/protocol/chatstates"/>', '<composing xmlns="http://jabber.org/protocol/chatstates"/>',
  '<presence type="unavailable"', '<show>away</show>', '<show>xa</show>', '<show>dnd</show>', '<show>chat</show>', '<priority>',
  '</status></presence>', '<status>', '<presence from="', '" xml:lang="en"',
  '<message type="groupchat" from="', '</body></message>', '<message type="chat" from="', '" to="', '" id="', '"><body>',
];

/**
 * XEP-0258 security label framing and RFC 2634 marking words, in both quote
 * styles (servers send ' , the relay writes "). First in the dictionary, so
 * the distances of everything after them are unchanged.
 */
const LABEL_STRINGS = [
  'CONFIDENTIAL', 'UNCLASSIFIED', 'RESTRICTED', 'SECRET',
  "<securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking", "</displaymarking><label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>",
  '<securitylabel xmlns="urn:xmpp:sec-label:0"><displaymarking fgcolor="black" bgcolor="',
  '</displaymarking><label><esssecuritylabel xmlns="urn:xmpp:sec-label:ess:0">', '</esssecuritylabel></label></securitylabel></message>',
];

/** The preset dictionary (identical on both ends: the domains are sorted). */
export function buildDictionary(domains: string[]): Uint8Array {
  const uniq = [...new Set(domains)].sort();
  const dom = uniq.flatMap((d) => [`@${d}/`, `"${d}"`]);
  const text = [...LABEL_STRINGS, ...dom, ...XMPP_STRINGS].join('');
  const buf = Buffer.from(text, 'utf8');
  // deflate can only reach back 32 KiB
  return buf.length > 32768 ? buf.subarray(buf.length - 32768) : buf;
}

/** The message's compressed bytes, ending at a byte boundary (the sync-flush tail stripped). */
export class StreamDeflater {
  private readonly z: RawContext;

  constructor(level: number, dictionary: Uint8Array, impl?: ZlibImpl) {
    this.z = deflateContext({ level, dictionary, impl });
  }

  compress(data: Uint8Array): Buffer {
    let one: Buffer | undefined;
    let more: Buffer[] | undefined;
    const r = this.z.push(data, (chunk) => {
      const copy = Buffer.from(chunk);
      if (!one) one = copy;
      else (more ??= [one]).push(copy);
    });
    if (r !== 'ok') throw new Error('deflate failed');
    const all = more ? Buffer.concat(more) : (one ?? Buffer.alloc(0));
    const n = all.length;
    const tail = n >= 4 && SYNC_TAIL.compare(all, n - 4, n) === 0;
    return tail ? all.subarray(0, n - 4) : all;
  }

  close(): void { this.z.close(); }
}

export type InflateResult = { ok: true; data: Buffer } | { ok: false; reason: 'too_big' | 'corrupt' };

export class StreamInflater {
  private readonly z: RawContext;
  broken = false;

  constructor(dictionary: Uint8Array, impl?: ZlibImpl) {
    this.z = inflateContext({ dictionary, impl });
  }

  /**
   * Incremental inflate with a cap: output past `maxBytes` is counted and
   * discarded (the context keeps in step; no decompression bomb in memory).
   */
  inflate(compressed: Uint8Array, maxBytes: number): InflateResult {
    if (this.broken) return { ok: false, reason: 'corrupt' };
    // No bytes: the sender's flush had nothing to write (an empty message after a flush); the tail would start a block.
    if (compressed.length === 0) return { ok: true, data: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    let total = 0;
    const r = this.z.push(Buffer.concat([compressed, SYNC_TAIL]), (chunk) => {
      total += chunk.length;
      if (total <= maxBytes) chunks.push(Buffer.from(chunk));
    });
    if (r !== 'ok') {
      this.broken = true;
      this.z.close();
      return { ok: false, reason: 'corrupt' };
    }
    if (total > maxBytes) return { ok: false, reason: 'too_big' };
    return { ok: true, data: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total) };
  }

  close(): void { this.z.close(); }
}

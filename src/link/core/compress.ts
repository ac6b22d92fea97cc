/**
 * Message-layer compression: one persistent raw-deflate context per direction
 * (RFC 1951), primed with a preset dictionary of common XMPP strings and the
 * link's domains. Each message is pushed with Z_SYNC_FLUSH so it ends on a
 * byte boundary; the 4-byte empty stored block 00 00 FF FF that a sync flush
 * always ends with is stripped by the sender and re-added by the receiver.
 * Messages are compressed in msn (stream) order and inflated in the same
 * order, so loss and retransmission never desynchronise the two contexts.
 */
import pako from 'pako';

const SYNC_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const Z_SYNC_FLUSH = 2;

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

export class StreamDeflater {
  private readonly d: pako.Deflate;
  private out: Uint8Array[] = [];

  constructor(level: number, dictionary: Uint8Array) {
    this.d = new pako.Deflate({ raw: true, level: level as pako.DeflateFunctionOptions['level'], dictionary, windowBits: 15, memLevel: 8 });
    this.d.onData = (chunk: Uint8Array) => { this.out.push(chunk); };
  }

  /** Compressed bytes of one message, ending at a byte boundary (tail stripped). */
  compress(data: Uint8Array): Buffer {
    this.out = [];
    this.d.push(data, Z_SYNC_FLUSH);
    if (this.d.err) throw new Error(`deflate failed: ${this.d.msg}`);
    const all = Buffer.concat(this.out);
    this.out = [];
    if (all.length >= 4 && all.subarray(all.length - 4).equals(SYNC_TAIL)) return all.subarray(0, all.length - 4);
    return all;
  }
}

export type InflateResult = { ok: true; data: Buffer } | { ok: false; reason: 'too_big' | 'corrupt' };

export class StreamInflater {
  private readonly i: pako.Inflate;
  private chunks: Uint8Array[] = [];
  private total = 0;
  private over = false;
  private limit = 0;
  broken = false;

  constructor(dictionary: Uint8Array) {
    this.i = new pako.Inflate({ raw: true, dictionary, windowBits: 15, chunkSize: 16384 });
    // Incremental inflate with a cap: output past the limit is counted and
    // discarded (the context keeps in step; no decompression bomb in memory).
    this.i.onData = (chunk: Uint8Array) => {
      this.total += chunk.length;
      if (this.total > this.limit) { this.over = true; this.chunks = []; return; }
      this.chunks.push(Buffer.from(chunk));
    };
  }

  inflate(compressed: Uint8Array, maxBytes: number): InflateResult {
    if (this.broken) return { ok: false, reason: 'corrupt' };
    this.chunks = [];
    this.total = 0;
    this.over = false;
    this.limit = maxBytes;
    try {
      this.i.push(Buffer.concat([compressed, SYNC_TAIL]), Z_SYNC_FLUSH);
      // pako hands out only full output buffers: drain the partial one here.
      const strm = (this.i as unknown as { strm: { output: Uint8Array; next_out: number; avail_out: number } }).strm;
      if (strm.next_out > 0) {
        this.i.onData(strm.output.subarray(0, strm.next_out));
        strm.avail_out += strm.next_out;
        strm.next_out = 0;
      }
    } catch {
      this.broken = true;
    }
    // pako reports Z_STREAM_END (1) for a final block: not allowed mid-stream
    if (this.i.err || (this.i as unknown as { ended?: boolean }).ended) this.broken = true;
    if (this.broken) return { ok: false, reason: 'corrupt' };
    if (this.over) return { ok: false, reason: 'too_big' };
    return { ok: true, data: Buffer.concat(this.chunks) };
  }
}

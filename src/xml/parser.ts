/**
 * Incremental, strict XMPP stream parser (RFC 6120 §4, §11; XEP-0361 implicit
 * streams). saxes does the XML; this module adds a UTF-8 front end, byte
 * accounting (limits, exact raw bytes), restricted-XML checks and the tree.
 * Between stanzas, fast.ts reads stanzas of the common shape without saxes
 * (their children built from raw on first use: routing reads attributes only);
 * at anything else it hands the bytes to saxes from the stanza's start.
 *
 * Byte accounting: input is fed to saxes in pieces no larger than the budget
 * left (stanza bytes, or bytes outside stanzas), so every limit trips at the
 * same byte whatever the chunking, and errors are reported in byte order.
 */
import { SaxesParser } from 'saxes';
import type { SaxesTagNS, SaxesAttributeNS } from 'saxes';
import { XmlElement, escapeAttr } from './element.ts';
import { StreamError, type StreamErrorCondition } from './stream-error.ts';
import { STREAM_NS } from './ns.ts';
import { completeLength, firstInvalid } from './utf8.ts';
import { deferChildren, fastStanza, isWs, type FastLimits } from './fast.ts';
import { Segments, type Seg } from './segments.ts';
import type { Metrics } from '../obs/metrics.ts';

export interface StreamParserOptions {
  /** Bytes per top-level stanza (default 256 KiB) -> policy-violation. */
  maxStanzaBytes?: number;
  /** Element nesting inside a stanza, the stanza itself being 1 (default 64). */
  maxDepth?: number;
  /** Attributes per element, declarations included (default 64). */
  maxAttributes?: number;
  /** Bytes of stream header, and of each run of bytes between stanzas (default 16 KiB). */
  maxHeaderBytes?: number;
  /** XEP-0361: no stream header; each top-level element is a stanza in defaultNs. */
  implicitStream?: { defaultNs: string };
  /** Counts satrelay_xml_stream_errors_total{condition}; none when absent (parsers are cheap, registries are not). */
  metrics?: Metrics;
  /** Read stanzas of the common shape without saxes (fast.ts; default true). False: saxes reads everything. */
  fastPath?: boolean;
}

export interface StreamHandlers {
  streamOpen?(attrs: Record<string, string>): void;
  stanza(el: XmlElement): void;
  streamClose?(): void;
  /** Called at most once; nothing is emitted after it. */
  error(err: StreamError): void;
}

interface Deferred {
  pos: number; // saxes position when queued
  byte: number; // stream byte offset the event ends at
  fn: () => void;
}

const WS = /^[ \t\r\n]*$/;
const EMPTY = Buffer.alloc(0);
/** A partial stanza the fast path holds back longer than this goes to saxes (no re-scans of big stanzas). */
const MAX_PEND = 8192;
const IMPLICIT_ROOT = 'satrelay-implicit-stream';

export class StreamParser {
  private readonly h: StreamHandlers;
  private readonly maxStanza: number;
  private readonly maxDepth: number;
  private readonly maxAttrs: number;
  private readonly limits: FastLimits;
  private readonly maxHeader: number;
  private readonly implicit?: { defaultNs: string };
  private readonly metrics?: Metrics;
  private readonly fastPath: boolean;

  private sax!: SaxesParser<{ xmlns: true }>;
  private gen = 0;
  private dead = false;
  private closed = false;
  private leftover: Buffer = Buffer.alloc(0);
  private byteOff = 0; // bytes handed to saxes so far
  private charOff = 0; // chars handed to saxes so far (includes implicit root)
  private segs = new Segments();
  private streamOpened = false;
  private streamLang: string | undefined;
  private langIns: string | undefined;
  private open = 0; // currently open elements, stream root included
  private attrCount = 0;
  private stanzaStart = -1; // byte offset of the current (or pending) stanza's '<'
  private outsideChar = 0; // where the current run outside stanzas began
  private outsideByte = 0;
  private stack: XmlElement[] = [];
  private declStack: (Set<string> | null)[] = [];
  private needDecl = new Map<string, string>();
  private deferred: Deferred[] = [];
  private eventByte = 0;
  private writing = false;
  private resetAt = -1;
  private skew = 0; // chars the fast path consumed, which saxes never saw
  private pend: Buffer = EMPTY; // a partial stanza the fast path holds until more bytes come
  private contentNs = ''; // default namespace of the stream's content

  constructor(handlers: StreamHandlers, opts: StreamParserOptions = {}) {
    this.h = handlers;
    this.maxStanza = opts.maxStanzaBytes ?? 262144;
    this.maxDepth = opts.maxDepth ?? 64;
    this.maxAttrs = opts.maxAttributes ?? 64;
    this.limits = { maxDepth: this.maxDepth, maxAttributes: this.maxAttrs };
    this.maxHeader = opts.maxHeaderBytes ?? 16384;
    this.implicit = opts.implicitStream;
    this.metrics = opts.metrics;
    this.fastPath = opts.fastPath ?? true;
    this.init();
  }

  /** Bytes of the stanza being received so far (0 between stanzas). */
  get bytesInStanza(): number {
    return this.stanzaStart >= 0 ? this.byteOff - this.stanzaStart : this.pend.length;
  }

  /** Fresh parser state for a stream restart (RFC 6120 §4.3.3). Bytes after the
   * event that triggered it, in the chunk being written, go to the new stream. */
  reset(): void {
    if (this.writing) this.resetAt = this.eventByte;
    this.gen++;
    this.init();
  }

  write(chunk: Buffer): void {
    if (this.dead || this.closed || chunk.length === 0) return;
    const gen = this.gen;
    const base = this.byteOff + this.pend.length;
    const buf = this.leftover.length ? Buffer.concat([this.leftover, chunk]) : chunk;
    const n = completeLength(buf);
    const bad = firstInvalid(n === buf.length ? buf : buf.subarray(0, n));
    const good = bad < 0 ? n : bad;
    this.leftover = bad < 0 && n < buf.length ? Buffer.from(buf.subarray(n)) : Buffer.alloc(0);
    const outer = this.writing;
    this.writing = true;
    try {
      this.feed(buf.subarray(0, good));
    } finally {
      this.writing = outer;
    }
    if (this.gen !== gen) {
      const at = this.resetAt;
      this.resetAt = -1;
      if (at >= 0 && !outer) {
        const rest = buf.subarray(Math.max(0, at - base));
        if (rest.length) this.write(Buffer.from(rest));
      }
      return;
    }
    if (bad >= 0) this.fail('not-well-formed', 'invalid UTF-8');
  }

  // ---- internals ---------------------------------------------------------

  private init(): void {
    const gen = this.gen;
    this.dead = false;
    this.closed = false;
    this.leftover = Buffer.alloc(0);
    this.byteOff = 0;
    this.charOff = 0;
    this.segs = new Segments();
    this.streamOpened = false;
    this.streamLang = undefined;
    this.langIns = undefined;
    this.open = 0;
    this.stanzaStart = -1;
    this.outsideChar = 0;
    this.outsideByte = 0;
    this.stack = [];
    this.declStack = [];
    this.needDecl = new Map();
    this.deferred = [];
    this.skew = 0;
    this.pend = EMPTY;
    this.contentNs = this.implicit?.defaultNs ?? '';
    const sax = (this.sax = new SaxesParser({ xmlns: true, position: true }));
    const live = (): boolean => this.gen === gen && !this.dead && !this.closed;
    sax.on('error', (e) => live() && this.onSaxError(e.message));
    sax.on('xmldecl', (d) => {
      if (!live() || !this.pre()) return;
      if (d.encoding !== undefined && !/^utf-8$/i.test(d.encoding)) this.fail('unsupported-encoding', d.encoding);
    });
    // RFC 6120 §11.1: no DTD, comments or processing instructions.
    sax.on('doctype', () => live() && this.pre() && this.fail('restricted-xml', 'DTD'));
    sax.on('comment', () => live() && this.pre() && this.fail('restricted-xml', 'comment'));
    sax.on('processinginstruction', () => live() && this.pre() && this.fail('restricted-xml', 'processing instruction'));
    sax.on('opentagstart', (t) => live() && this.pre() && this.onOpenStart(t));
    sax.on('attribute', () => {
      if (!live() || !this.pre()) return;
      if (++this.attrCount > this.maxAttrs) this.fail('policy-violation', 'too many attributes');
    });
    sax.on('opentag', (t) => live() && this.pre() && this.onOpen(t));
    sax.on('text', (s) => live() && this.pre() && this.onText(s));
    sax.on('cdata', (s) => {
      if (!live() || !this.pre()) return;
      this.onText(s);
      if (this.open === 1 && !this.dead) {
        // a whitespace CDATA section between stanzas: its '<' started no stanza
        this.stanzaStart = -1;
        this.outsideChar = this.pos();
      }
    });
    sax.on('closetag', (t) => live() && this.pre() && this.onClose(t));
    if (this.implicit) {
      const root = `<${IMPLICIT_ROOT} xmlns="${escapeAttr(this.implicit.defaultNs)}">`;
      sax.write(root);
      this.charOff = this.outsideChar = root.length;
      this.streamOpened = true;
    }
  }

  /** saxes's position in stream characters (chars the fast path consumed included). */
  private pos(): number {
    return this.sax.position + this.skew;
  }

  /** Runs queued emissions; returns false when the parser died or was reset. */
  private pre(): boolean {
    const gen = this.gen;
    while (this.deferred.length) {
      const d = this.deferred.shift()!;
      this.eventByte = d.byte;
      d.fn();
      if (this.gen !== gen || this.dead || this.closed) return false;
    }
    return true;
  }

  private onSaxError(msg: string): void {
    // saxes reports a mismatched close tag right after the close event it
    // triggered: that event is void.
    const last = this.deferred[this.deferred.length - 1];
    if (last && last.pos === this.pos()) this.deferred.pop();
    if (!this.pre()) return;
    let cond: StreamErrorCondition = 'not-well-formed';
    if (/unbound namespace prefix/.test(msg)) cond = 'bad-namespace-prefix';
    else if (/doctype|processing instruction/i.test(msg)) cond = 'restricted-xml';
    this.fail(cond, msg);
  }

  private fail(cond: StreamErrorCondition, text?: string): void {
    if (this.dead) return;
    this.dead = true;
    this.deferred = [];
    this.eventByte = -1; // a reset() from the error handler does not replay the rest
    this.metrics?.inc('xml_stream_errors_total', { condition: cond });
    this.h.error(new StreamError(cond, text));
  }

  private feed(buf: Buffer): void {
    const gen = this.gen;
    if (this.pend.length) {
      buf = Buffer.concat([this.pend, buf]);
      this.pend = EMPTY;
    }
    let i = 0;
    if (this.fastReady() && buf.length) {
      i = this.fast(buf);
      if (i < 0) return;
    }
    while (i < buf.length) {
      if (this.dead || this.closed || this.gen !== gen) return;
      const budget = this.budget();
      let end = Math.min(buf.length, i + budget);
      while (end > i && end < buf.length && (buf[end] & 0xc0) === 0x80) end--;
      if (end === i) {
        // the next byte (or character) would overflow a limit
        this.fail('policy-violation', this.stanzaStart >= 0 ? 'stanza too large' : 'too many bytes outside stanzas');
        return;
      }
      const piece = buf.subarray(i, end);
      const s = piece.toString('utf8');
      const seg = this.segs.add(this.charOff, this.byteOff, s, piece);
      this.sax.write(s);
      if (this.gen !== gen) return;
      this.charOff += s.length;
      this.byteOff += piece.length;
      if (!this.pre()) return;
      this.findPendingStart(seg);
      this.segs.prune(this.stanzaStart >= 0 ? this.stanzaStart : this.byteOff);
      i = end;
    }
  }

  /** saxes stands between stanzas with nothing fed since the last one: the fast path may read on. */
  private fastReady(): boolean {
    return this.fastPath && this.streamOpened && !this.closed && !this.dead && this.open === 1 && this.stanzaStart < 0 && this.deferred.length === 0 && this.charOff === this.outsideChar;
  }

  /** Reads and emits whole stanzas of the common shape (fast.ts); returns the bytes consumed (the rest
   * goes to saxes), or -1: nothing left for saxes (a partial stanza in `pend`, or reset/ended by a handler). */
  private fast(buf: Buffer): number {
    const gen = this.gen;
    const s = buf.toString('utf8');
    const ascii = s.length === buf.length;
    let c = 0; // chars and bytes of buf consumed
    let b = 0;
    const toByte = (k: number): number => (ascii ? k : b + Buffer.byteLength(s.slice(c, k)));
    const consume = (k: number, kb: number): void => void ((this.charOff += k - c), (this.skew += k - c), (this.byteOff += kb - b), (c = k), (b = kb));
    for (;;) {
      let k = c;
      while (k < s.length && isWs(s.charCodeAt(k))) k++;
      const kb = toByte(k);
      // the '<' counts against the bytes allowed outside stanzas
      if (this.byteOff + (kb - b) + 1 - this.outsideByte > this.maxHeader) return b;
      if (k === s.length) {
        consume(k, kb);
        return -1;
      }
      if (s.charCodeAt(k) !== 0x3c) return b;
      const r = fastStanza(s, k, this.contentNs, this.limits, true);
      if (r === 'bail') return b;
      if (r === 'incomplete') {
        if (buf.length - kb > Math.min(MAX_PEND, this.maxStanza)) return b;
        consume(k, kb);
        this.pend = Buffer.from(buf.subarray(kb));
        return -1;
      }
      const el = r.el;
      consume(k, kb);
      const eb = toByte(r.end);
      if (eb - kb > this.maxStanza) return b;
      let raw: Buffer;
      if (this.langIns !== undefined && el.attrs['xml:lang'] === undefined) {
        el.attrs['xml:lang'] = this.streamLang!;
        const at = kb + 1 + el.name.length;
        raw = Buffer.concat([buf.subarray(kb, at), Buffer.from(this.langIns, 'utf8'), buf.subarray(at, eb)]);
      } else buf.copy((raw = Buffer.allocUnsafe(eb - kb)), 0, kb, eb);
      el.raw = raw;
      if (s.charCodeAt(r.end - 2) !== 0x2f) deferChildren(el, raw, this.contentNs); // children built on first use
      consume(r.end, eb);
      this.outsideChar = this.charOff;
      this.outsideByte = this.byteOff;
      this.eventByte = this.byteOff;
      this.h.stanza(el);
      if (this.gen !== gen || this.dead || this.closed) return -1;
    }
  }

  /** Bytes that may be fed now without any limit being crossed unseen. */
  private budget(): number {
    let b = Math.min(this.maxStanza, this.maxHeader);
    if (!this.streamOpened) b = Math.min(b, this.maxHeader - this.byteOff);
    else if (this.stanzaStart >= 0) b = Math.min(b, this.maxStanza - (this.byteOff - this.stanzaStart));
    else b = Math.min(b, this.maxHeader - (this.byteOff - this.outsideByte));
    return b;
  }

  /** A '<' fed outside any stanza whose tag saxes has not reported yet starts the next stanza. */
  private findPendingStart(seg: Seg): void {
    if (!this.streamOpened || this.stanzaStart >= 0 || this.closed) return;
    const from = Math.max(0, this.outsideChar - seg.c0);
    const k = seg.s.indexOf('<', from);
    if (k >= 0) this.stanzaStart = this.segs.charToByte(seg.c0 + k);
  }

  private onOpenStart(tag: { name: string }): void {
    this.open++;
    this.attrCount = 0;
    if (this.open === 2 && this.stanzaStart < 0) {
      // '<' + name + terminator (CR LF counts as one) were just consumed
      const pos = this.pos();
      const term = this.segs.charAt(pos - 1) === '\n' && this.segs.charAt(pos - 2) === '\r' ? 2 : 1;
      this.stanzaStart = this.segs.charToByte(pos - term - tag.name.length - 1);
    }
    if (this.open - 1 > this.maxDepth) this.fail('policy-violation', 'too deep');
  }

  private onOpen(tag: SaxesTagNS): void {
    const attrs: Record<string, string> = {};
    const list = tag.attributes as Record<string, SaxesAttributeNS>;
    if (this.open === 1) {
      if (this.implicit) return;
      for (const k in list) attrs[k] = list[k].value;
      // RFC 6120 §4.8.1: the stream element is <stream> in the streams namespace
      if (tag.local !== 'stream' || tag.uri !== STREAM_NS.STREAM) {
        this.fail('invalid-namespace', `stream element ${tag.name} in ${tag.uri}`);
        return;
      }
      this.streamOpened = true;
      this.contentNs = attrs.xmlns ?? '';
      this.streamLang = attrs['xml:lang'];
      this.langIns = this.streamLang === undefined ? undefined : ` xml:lang="${escapeAttr(this.streamLang)}"`;
      this.outsideChar = this.pos();
      this.outsideByte = this.segs.charToByte(this.outsideChar);
      this.segs.prune(this.stanzaStart >= 0 ? this.stanzaStart : this.byteOff);
      this.eventByte = this.outsideByte;
      this.h.streamOpen?.(attrs);
      return;
    }
    let decls: Set<string> | null = null;
    let foreign = false;
    for (const k in list) {
      const a = list[k];
      attrs[k] = a.value;
      if (a.prefix === 'xmlns') (decls ??= new Set()).add(a.local);
      else if (a.prefix && a.prefix !== 'xml') foreign = true;
    }
    this.declStack.push(decls);
    // prefixes bound only on the stream header (RFC 6120 §4.8.5)
    if (tag.prefix && tag.prefix !== 'xml' && !this.declared(tag.prefix)) this.needDecl.set(tag.prefix, tag.uri);
    if (foreign) {
      for (const k in list) {
        const a = list[k];
        if (a.prefix && a.prefix !== 'xmlns' && a.prefix !== 'xml' && !this.declared(a.prefix)) this.needDecl.set(a.prefix, a.uri);
      }
    }
    const el = new XmlElement(tag.name, attrs, [], tag.uri);
    const parent = this.stack[this.stack.length - 1];
    if (parent) parent.children.push(el);
    this.stack.push(el);
  }

  private declared(prefix: string): boolean {
    for (const d of this.declStack) if (d?.has(prefix)) return true;
    return false;
  }

  private onText(s: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top) {
      const n = top.children.length;
      if (n && typeof top.children[n - 1] === 'string') top.children[n - 1] += s;
      else top.children.push(s);
    } else if (this.open === 1 && !WS.test(s)) {
      // only whitespace (keepalives) may sit between stanzas
      this.fail('bad-format', 'character data between stanzas');
    }
  }

  private onClose(_tag: SaxesTagNS): void {
    this.open--;
    const pos = this.pos();
    if (this.open >= 1) {
      const el = this.stack.pop()!;
      this.declStack.pop();
      if (this.open > 1) return;
      const end = this.segs.charToByte(pos);
      const start = this.stanzaStart;
      let ins = '';
      if (this.needDecl.size) {
        const extra: Record<string, string> = {};
        for (const [p, uri] of this.needDecl) {
          extra[`xmlns:${p}`] = uri;
          ins += ` xmlns:${p}="${escapeAttr(uri)}"`;
        }
        el.attrs = { ...extra, ...el.attrs };
      }
      // RFC 6120 §4.7.4: a stanza without xml:lang inherits the stream's
      if (this.langIns !== undefined && el.attrs['xml:lang'] === undefined) {
        el.attrs['xml:lang'] = this.streamLang!;
        ins += this.langIns;
      }
      const raw = this.segs.bytes(start, end, ins, 1 + Buffer.byteLength(el.name));
      el.raw = raw;
      if (this.needDecl.size) this.needDecl = new Map();
      this.stanzaStart = -1;
      this.outsideChar = pos;
      this.outsideByte = end;
      if (end - start > this.maxStanza) {
        this.fail('policy-violation', 'stanza too large');
        return;
      }
      this.deferred.push({ pos, byte: end, fn: () => this.h.stanza(el) });
      return;
    }
    if (this.implicit) {
      this.fail('not-well-formed', 'unmatched closing tag');
      return;
    }
    const end = this.segs.charToByte(pos);
    this.deferred.push({
      pos,
      byte: end,
      fn: () => {
        this.closed = true;
        this.stanzaStart = -1;
        this.h.streamClose?.();
      },
    });
  }
}

/**
 * Strict parse of one standalone element (tests, config). Throws StreamError
 * with the same conditions the stream parser reports.
 */
export function parseXml(text: string): XmlElement {
  const found: XmlElement[] = [];
  let err: StreamError | undefined;
  const p = new StreamParser(
    { stanza: (el) => found.push(el), error: (e) => (err ??= e) },
    { implicitStream: { defaultNs: '' }, maxStanzaBytes: Number.MAX_SAFE_INTEGER, maxHeaderBytes: Number.MAX_SAFE_INTEGER },
  );
  p.write(Buffer.from(text, 'utf8'));
  if (err) throw err;
  if (found.length !== 1) throw new StreamError('not-well-formed', `expected one element, got ${found.length}`);
  if (p.bytesInStanza > 0) throw new StreamError('not-well-formed', 'incomplete element after the first');
  return found[0];
}

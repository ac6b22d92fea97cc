/**
 * Persistent raw deflate / inflate contexts driven synchronously, one push per
 * message with Z_SYNC_FLUSH (compress.ts frames the messages).
 *
 * node:zlib (native zlib) has no public synchronous API that keeps a context
 * between calls (its *Sync functions open and close one per call), so the
 * native context of a zlib stream object is driven the way node:zlib's own
 * synchronous path drives it: handle.writeSync(flush, in, inOff, inLen, out,
 * outOff, outLen), then the bytes left of output and input in _writeState.
 * That costs about a quarter of pako's CPU for the same bytes on the wire
 * (README, Dependencies). Where a Node release lacks those internals, pako
 * (the same zlib algorithm in JavaScript) takes over: both write and read the
 * standard raw deflate stream (RFC 1951), so either end may use either.
 */
import zlib from 'node:zlib';
import pako from 'pako';

const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;

/**
 * What a push did: 'ok'; 'error' (corrupt input: the context is gone);
 * 'ended' (input past a final block: not allowed mid-stream).
 */
export type PushResult = 'ok' | 'error' | 'ended';

/** One direction's context: every output chunk goes to `sink` (valid only during the call: copy to keep). */
export interface RawContext {
  push(input: Uint8Array, sink: (chunk: Uint8Array) => void): PushResult;
  /** Frees the context (a new stream generation replaces it). */
  close(): void;
}

export type ZlibImpl = 'native' | 'pako';

export interface ContextOptions { level?: number; dictionary: Uint8Array; impl?: ZlibImpl }

/** The part of node:zlib's stream object driven here (lib/zlib.js processChunkSync). */
interface NativeHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
}
interface NativeParts { _handle: NativeHandle | null; _writeState: Uint32Array }

/** Output scratch shared by every native context (all use is synchronous). */
const SCRATCH = Buffer.allocUnsafe(64 * 1024);

function nativeParts(z: zlib.DeflateRaw | zlib.InflateRaw): NativeParts | undefined {
  const p = z as unknown as Partial<NativeParts>;
  return typeof p._handle?.writeSync === 'function' && p._writeState instanceof Uint32Array ? (p as NativeParts) : undefined;
}

class NativeContext implements RawContext {
  private readonly parts: NativeParts;
  private failed = false;

  constructor(private readonly z: zlib.DeflateRaw | zlib.InflateRaw) {
    this.parts = nativeParts(z)!;
    // zlib reports a data error by destroying the stream, then emitting 'error' on the next tick.
    z.on('error', () => { this.failed = true; });
  }

  push(input: Uint8Array, sink: (chunk: Uint8Array) => void): PushResult {
    const handle = this.parts._handle;
    if (this.failed || !handle || this.z.destroyed) return 'error';
    const state = this.parts._writeState;
    let inOff = 0;
    let inLen = input.length;
    for (;;) {
      handle.writeSync(Z_SYNC_FLUSH, input, inOff, inLen, SCRATCH, 0, SCRATCH.length);
      if (this.z.destroyed) { this.failed = true; return 'error'; }
      const outLeft = state[0];
      const inLeft = state[1];
      if (outLeft < SCRATCH.length) sink(SCRATCH.subarray(0, SCRATCH.length - outLeft));
      if (outLeft !== 0) return inLeft === 0 ? 'ok' : 'ended'; // room left but input not taken: the stream has ended
      inOff += inLen - inLeft;
      inLen = inLeft;
    }
  }

  close(): void { this.z.close(); }
}

class PakoContext implements RawContext {
  private sink: (chunk: Uint8Array) => void = () => {};

  constructor(private readonly z: pako.Deflate | pako.Inflate) {
    z.onData = (chunk: Uint8Array) => this.sink(chunk);
  }

  push(input: Uint8Array, sink: (chunk: Uint8Array) => void): PushResult {
    this.sink = sink;
    try {
      this.z.push(input, Z_SYNC_FLUSH);
      // pako hands out only full output buffers: drain the partial one here.
      const strm = (this.z as unknown as { strm: { output: Uint8Array; next_out: number; avail_out: number } }).strm;
      if (strm.next_out > 0) {
        sink(strm.output.subarray(0, strm.next_out));
        strm.avail_out += strm.next_out;
        strm.next_out = 0;
      }
    } catch {
      return 'error';
    } finally {
      this.sink = () => {};
    }
    if (this.z.err) return 'error';
    // pako reports Z_STREAM_END (1) for a final block
    return (this.z as unknown as { ended?: boolean }).ended ? 'ended' : 'ok';
  }

  close(): void {}
}

/**
 * Whether this Node's zlib can be driven synchronously with a persistent
 * context: its internals are there, and two messages with a dictionary make
 * the round trip to and from pako (checked once, at load).
 */
export const nativeAvailable: boolean = (() => {
  const probe = zlib.createDeflateRaw();
  const found = nativeParts(probe) !== undefined;
  probe.close();
  return found && roundTrips();
})();

function roundTrips(): boolean {
  const dictionary = Buffer.from('<message to="" from=""><body></body></message>');
  const msgs = [Buffer.from('<message to="a@b" from="c@d"><body>one</body></message>'), Buffer.from('<message to="a@b" from="c@d"><body>two</body></message>')];
  try {
    const pairs: Array<[RawContext, RawContext]> = [
      [new NativeContext(zlib.createDeflateRaw({ dictionary })), new PakoContext(new pako.Inflate({ raw: true, dictionary }))],
      [new PakoContext(new pako.Deflate({ raw: true, dictionary })), new NativeContext(zlib.createInflateRaw({ dictionary }))],
    ];
    const ok = pairs.every(([d, i]) => msgs.every((m) => {
      const comp: Buffer[] = [];
      const out: Buffer[] = [];
      return d.push(m, (c) => void comp.push(Buffer.from(c))) === 'ok' && i.push(Buffer.concat(comp), (c) => void out.push(Buffer.from(c))) === 'ok' && Buffer.concat(out).equals(m);
    }));
    for (const [d, i] of pairs) { d.close(); i.close(); }
    return ok;
  } catch {
    return false;
  }
}

/** The implementation used for `impl` (default: native where available). */
export function zlibImpl(impl?: ZlibImpl): ZlibImpl {
  if (impl === 'native' && !nativeAvailable) throw new Error('native zlib cannot be driven synchronously on this Node');
  return impl ?? (nativeAvailable ? 'native' : 'pako');
}

/** A raw deflate context (window 32 KiB, memLevel 8) primed with `dictionary`. */
export function deflateContext(o: ContextOptions): RawContext {
  const level = o.level ?? 6;
  if (zlibImpl(o.impl) === 'native') return new NativeContext(zlib.createDeflateRaw({ level, dictionary: o.dictionary, windowBits: 15, memLevel: 8 }));
  return new PakoContext(new pako.Deflate({ raw: true, level: level as pako.DeflateFunctionOptions['level'], dictionary: o.dictionary, windowBits: 15, memLevel: 8 }));
}

/** A raw inflate context (window 32 KiB) primed with `dictionary`. */
export function inflateContext(o: ContextOptions): RawContext {
  if (zlibImpl(o.impl) === 'native') return new NativeContext(zlib.createInflateRaw({ dictionary: o.dictionary, windowBits: 15 }));
  return new PakoContext(new pako.Inflate({ raw: true, dictionary: o.dictionary, windowBits: 15, chunkSize: 16384 }));
}

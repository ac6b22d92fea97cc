/**
 * The receive stream (docs/link-protocol.md §4): segments reassembled per msn
 * (bounded: MAX_REASSEMBLY_AHEAD messages ahead, maxStanzaBytes plus deflate
 * expansion per message), inflated in msn order with the generation's context
 * and handed to the delivery ledger. The stream is keyed by (partner session,
 * generation): a higher generation replaces it (a resync), a lower one is
 * stale. An inflate failure breaks the stream: a RESET for its generation is
 * sent until the partner starts the next one.
 */
import { StreamInflater } from './compress.ts';
import type { ZlibImpl } from './zstream.ts';
import { RangeSet } from './ranges.ts';
import { countDrop, type LinkCounters } from './stats.ts';
import type { CoreLogger } from './log.ts';
import type { DeliveryLedger } from './ledger.ts';
import type { LinkEvent } from './events.ts';
import type { PeerChange } from './session.ts';
import type { Seg } from './wire.ts';

const MAX_REASSEMBLY_AHEAD = 8192;

interface Part { id?: bigint; meta?: Uint8Array; buf: Buffer; have: RangeSet; total?: number }
interface Stream { epoch: number; g: number; nextMsn: number; inflater: StreamInflater; parts: Map<number, Part>; broken: boolean }

export class RxStream {
  private rx: Stream | undefined;
  /** A retired v1 epoch came back: its stream runs past what we can inflate, so the next generation seen is asked to reset. */
  private reviving = false;
  private resetRequest: number | undefined;
  private resetInFlight = false;

  constructor(
    private readonly maxStanza: number,
    private readonly dict: Uint8Array,
    private readonly c: LinkCounters,
    private readonly log: CoreLogger,
    private readonly ledger: DeliveryLedger,
    private readonly events: LinkEvent[],
    private readonly zlib?: ZlibImpl,
  ) {}

  /** An authentic frame from a new partner run: a restart loses its streams. */
  onPeerRun(change: PeerChange): void {
    if (change !== 'same') this.reviving = change === 'revive';
    if (change !== 'restart' && change !== 'revive') return;
    this.rx?.inflater.close();
    this.rx = undefined;
    this.resetRequest = undefined;
    this.resetInFlight = false;
  }

  /** A message is partly received: the partner has more of it to send. */
  midMessage(): boolean { return (this.rx?.parts.size ?? 0) > 0; }

  /** The stream is broken and a RESET is owed. */
  wantsReset(): boolean { return this.resetRequest !== undefined; }
  /** A RESET is owed and not in a frame in flight. */
  resetDue(): boolean { return this.resetRequest !== undefined && !this.resetInFlight; }

  /** The generation to ask a RESET for in the frame being built, if due (again only if that frame is lost). */
  takeReset(): number | undefined {
    if (!this.resetDue()) return undefined;
    this.resetInFlight = true;
    return this.resetRequest;
  }

  onResetLost(): void { this.resetInFlight = false; }

  /** A STREAM block of generation `g` from partner session `epoch`, and its segments. */
  onData(now: number, g: number, segs: Seg[], epoch: number): void {
    if (this.rx && g < this.rx.g) return; // stale generation
    if (!this.rx || g > this.rx.g) {
      const fresh = this.rx !== undefined;
      this.rx?.inflater.close();
      this.rx = { epoch, g, nextMsn: 0, inflater: new StreamInflater(this.dict, this.zlib), parts: new Map(), broken: this.reviving };
      if (this.reviving) { this.resetRequest = g; this.resetInFlight = false; this.reviving = false; return; }
      if (this.resetRequest !== undefined && g > this.resetRequest) { this.resetRequest = undefined; this.resetInFlight = false; }
      if (fresh) { this.c.resyncs++; this.events.push({ type: 'resync' }); }
    }
    const rx = this.rx;
    if (rx.broken) return;
    const cap = this.maxStanza + (this.maxStanza >> 4) + 1024; // deflate worst-case expansion
    for (const s of segs) {
      if (s.msn < rx.nextMsn || s.msn >= rx.nextMsn + MAX_REASSEMBLY_AHEAD) continue; // done already / too far
      let p = rx.parts.get(s.msn);
      if (!p) { p = { buf: Buffer.alloc(0), have: new RangeSet() }; rx.parts.set(s.msn, p); }
      const end = s.offset + s.data.length;
      if (end > cap) { countDrop(this.c, 'too_big'); continue; }
      if (s.first) { p.id = s.id; p.meta = s.meta ? Buffer.from(s.meta) : undefined; }
      if (s.last) p.total = end;
      if (end > p.buf.length) { const nb = Buffer.alloc(Math.max(end, Math.min(cap, p.buf.length * 2))); p.buf.copy(nb); p.buf = nb; }
      p.buf.set(s.data, s.offset);
      if (s.data.length) p.have.add(s.offset, end - 1);
    }
    this.deliverReady(now, rx);
  }

  /** Inflates complete messages in msn order and hands them to the ledger. */
  private deliverReady(now: number, rx: Stream): void {
    for (;;) {
      const p = rx.parts.get(rx.nextMsn);
      if (!p || p.total === undefined || p.id === undefined) return;
      if (p.total > 0 && !p.have.covers(0, p.total - 1)) return;
      rx.parts.delete(rx.nextMsn);
      rx.nextMsn++;
      const res = rx.inflater.inflate(p.buf.subarray(0, p.total), this.maxStanza);
      if (!res.ok && res.reason === 'corrupt') {
        // Context lost: ask the peer for a new generation (RESET block).
        rx.broken = true;
        rx.parts.clear();
        this.resetRequest = rx.g;
        this.resetInFlight = false;
        this.c.streamResets.inflate++;
        this.log.warn({ g: rx.g }, 'inflate failed: asking for a stream reset');
        return;
      }
      if (res.ok) this.c.stanzaBytesIn += res.data.length;
      this.ledger.offer(now, p.id, res.ok ? res.data : undefined, p.meta);
    }
  }
}

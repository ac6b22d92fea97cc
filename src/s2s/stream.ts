/**
 * One S2S XML stream over a socket (RFC 6120 §4): the parts inbound and
 * outbound sessions share. Explicit states with ONE transition function
 * (setState), ONE close path (close): stream error, closing tag, no more
 * sends, timers cleared, queued stanzas bounced, close counted by condition.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { StreamParser } from '../xml/index.ts';
import type { XmlElement } from '../xml/element.ts';
import { escapeAttr } from '../xml/element.ts';
import { StreamError, StanzaError } from '../xmpp/errors.ts';
import { NS } from '../xmpp/ns.ts';
import type { Logger } from '../obs/log.ts';
import type { Metrics } from '../obs/metrics.ts';
import type { RuntimeTimer, S2SRuntime } from './runtime.ts';

export type Direction = 'in' | 'out';

/**
 * Session states (Prosody s2sin_unauthed -> s2sin, s2sout_unauthed -> s2sout):
 *  resolving/connecting (out only) -> wait-header -> wait-features (out) / open (in)
 *  -> tls / sasl / dialback -> authed -> closed. Any state -> closed.
 */
export type SessionState =
  | 'resolving' | 'connecting' | 'wait-header' | 'wait-features' | 'open' | 'tls' | 'sasl' | 'dialback' | 'authed' | 'closed';

const ALLOWED: Record<SessionState, readonly SessionState[]> = {
  resolving: ['connecting'],
  connecting: ['wait-header'],
  'wait-header': ['wait-features', 'open', 'authed'],
  'wait-features': ['tls', 'sasl', 'dialback', 'authed', 'wait-features'],
  open: ['tls', 'sasl', 'dialback', 'authed', 'open'],
  tls: ['wait-header'],
  sasl: ['wait-header', 'dialback'],
  dialback: ['authed', 'dialback'],
  authed: ['wait-header', 'authed'],
  closed: [],
};

export interface QueuedStanza {
  el: XmlElement;
  at: number;
}

export interface StreamEnv {
  log: Logger;
  metrics: Metrics;
  maxStanzaBytes: number;
  /** Clock, timers, deferral and randomness (runtime.ts). */
  runtime: S2SRuntime;
  timeouts: { idleMs: number };
  onUndeliverable(stanza: XmlElement, err: StanzaError): void;
  /**
   * Hands a checked stanza from a local server to onStanza; a refusal bounces
   * it to its sender (RFC 6120 §8.3). `handled` runs once either way.
   */
  handOver(stanza: XmlElement, route: { from: string; to: string }, handled: () => void, log: Logger): void;
}

let counter = 0;
/**
 * Input a stream reads in one event-loop turn before it lets the rest of the
 * relay run (commits, the link's sends): a burst from a local server is taken
 * in slices, so the bearer starts on its first stanzas at once instead of
 * waiting until the whole burst is parsed and spooled.
 */
export const INPUT_PER_TURN = 16 * 1024;

export const newId = (rt: S2SRuntime): string => rt.random(8).toString('hex');

export const streamHeader = (a: { from?: string; to?: string; id?: string; version?: boolean }): string =>
  `<?xml version='1.0'?><stream:stream xmlns='${NS.SERVER}' xmlns:stream='${NS.STREAM}' xmlns:db='${NS.DIALBACK}'` +
  (a.from ? ` from='${escapeAttr(a.from)}'` : '') +
  (a.to ? ` to='${escapeAttr(a.to)}'` : '') +
  (a.id ? ` id='${escapeAttr(a.id)}'` : '') +
  (a.version === false ? '' : ` version='1.0'`) +
  '>';

/**
 * XEP-0198 §4 receiving side: stanzas counted from <enable/>/<enabled/>, h =
 * the contiguous prefix handled; an <r/> is answered once every stanza
 * received before it was handled. Handled stanzas are also acknowledged
 * unasked, once per tick: the peer bounces what is unacknowledged when the
 * stream dies, so the window in which a stored stanza is both bounced and
 * delivered (a relay killed before the next <r/>) stays a tick wide.
 */
export class SmReceiver {
  private received = 0;
  private handled = 0;
  private readonly done = new Set<number>();
  private ackWanted = false;
  private lastSent = 0;
  private eagerPending = false;
  constructor(
    private readonly sendAck: (h: number) => void,
    private readonly rt: S2SRuntime,
  ) {}

  /** Sequence number of a newly received stanza. */
  next(): number {
    return this.received++;
  }

  markHandled(seq: number): void {
    const before = this.handled;
    if (seq === this.handled && this.done.size === 0) this.handled++; // in order: the common case
    else {
      this.done.add(seq);
      while (this.done.delete(this.handled)) this.handled++;
    }
    this.maybeAck();
    if (this.handled > before && !this.eagerPending) {
      this.eagerPending = true;
      this.rt.soon(() => {
        this.eagerPending = false;
        if (this.handled > this.lastSent) this.ack();
      });
    }
  }

  /** The peer sent <r/>. */
  requested(): void {
    this.ackWanted = true;
    this.maybeAck();
  }

  /** At close: acknowledges what was handled, unasked, so the peer resends nothing it need not (XEP-0198 §4). */
  final(): void {
    if (this.received > 0) this.ack();
  }

  private maybeAck(): void {
    if (!this.ackWanted || this.handled !== this.received) return;
    this.ackWanted = false;
    this.ack();
  }

  private ack(): void {
    this.lastSent = this.handled;
    this.sendAck(this.handled % 2 ** 32);
  }
}

export abstract class S2SStream {
  readonly id: string;
  abstract readonly direction: Direction;
  state: SessionState;
  socket?: Socket;
  tls = false;
  auth?: 'dialback' | 'sasl-external';
  /** How the peer's certificate was verified (trust/): PKIX or DANE; unset: not verified. */
  peerCert?: 'pkix' | 'dane';
  /** XEP-0288: stanzas flow both ways on this stream. */
  bidi = false;
  /** Stanzas received / written on this stream. */
  stanzasIn = 0;
  stanzasOut = 0;
  /** Sent stanzas waiting for authentication (bounded by the owner). */
  protected queue: QueuedStanza[] = [];
  protected headerSent = false;
  protected parser?: StreamParser;
  private parserGen = 0;
  private timers = new Map<string, RuntimeTimer>();
  /** Writes are gathered until the end of the tick (send()). */
  protected corked = false;
  private pending: Buffer[] = [];
  /** runtime.now() of the last stanza in or out (the idle timer). */
  private lastActive = 0;
  private outputClosed = false;
  protected readonly log: Logger;
  /** Called once, after the close path ran. */
  onClosed?: () => void;

  constructor(protected readonly env: StreamEnv, initial: SessionState, prefix: string) {
    this.id = `${prefix}${++counter}`;
    this.state = initial;
    this.log = env.log.child({ session: this.id });
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** The one state transition function. */
  protected setState(next: SessionState, why?: string): void {
    const prev = this.state;
    if (prev === 'closed') return;
    if (next !== 'closed' && !ALLOWED[prev].includes(next)) {
      this.log.error({ prev, next }, 'illegal S2S state transition');
      this.close(new StreamError('internal-server-error', `state ${prev} -> ${next}`));
      return;
    }
    this.state = next;
    this.log.debug({ prev, next, why }, 's2s state');
    if (next === 'authed' && prev !== 'authed') this.onAuthed();
  }

  protected onAuthed(): void {}

  /** Last writes of a corked tick, before they leave together (an XEP-0198 <r/> after the stanzas). */
  protected beforeUncork(): void {}

  /** Attaches a (new) socket and a fresh parser; old parser callbacks are ignored. */
  protected attach(socket: Socket): void {
    this.socket = socket;
    socket.setNoDelay(true); // stanzas and XEP-0198 acks are small and latency-bound
    this.handshaking = undefined;
    this.tls = socket instanceof TLSSocket;
    socket.on('data', (b: Buffer) => this.input(socket, b));
    socket.on('error', (err) => {
      this.env.metrics.inc('s2s_socket_errors_total', { direction: this.direction });
      this.log.debug({ err: err.message }, 's2s socket error');
      this.outputClosed = true;
      this.close(null, this.socketErrorCause());
    });
    socket.on('close', () => {
      this.outputClosed = true;
      this.close(null, this.socketErrorCause());
    });
    this.newParser();
  }

  /** Bytes read in this event-loop turn (INPUT_PER_TURN). */
  private inputThisTurn = 0;

  private input(socket: Socket, b: Buffer): void {
    if (this.inputThisTurn === 0) setImmediate(() => this.nextTurn(socket));
    this.inputThisTurn += b.length;
    this.parser?.write(b);
    if (this.inputThisTurn >= INPUT_PER_TURN && this.socket === socket) socket.pause();
  }

  private nextTurn(socket: Socket): void {
    this.inputThisTurn = 0;
    if (socket.isPaused() && this.socket === socket && !this.closed) socket.resume();
  }

  /** Stream restart (RFC 6120 §5.4.3.3 TLS, §6.4.6 SASL): a new parser. */
  protected newParser(): void {
    const gen = ++this.parserGen;
    const live = () => gen === this.parserGen && !this.closed;
    this.parser = new StreamParser(
      {
        streamOpen: (attrs) => live() && this.onStreamOpen(attrs),
        stanza: (el) => {
          if (!live()) return;
          try {
            this.onElement(el);
          } catch (err) {
            this.log.error({ err }, 's2s element handler failed');
            this.close(new StreamError('internal-server-error'));
          }
        },
        streamClose: () => live() && this.onPeerClose(),
        error: (err) => live() && this.close(err),
      },
      { maxStanzaBytes: this.env.maxStanzaBytes },
    );
  }

  /** Detaches the raw socket's data listener (before wrapping it in TLS). */
  protected detachForTls(): Socket {
    const raw = this.socket!;
    raw.removeAllListeners('data');
    raw.removeAllListeners('error');
    raw.removeAllListeners('close');
    raw.on('error', () => undefined); // the TLS socket reports failures from here on
    this.socket = undefined; // nothing is sent in clear during the handshake
    this.parserGen++;
    return raw;
  }

  /** The TLS socket during its handshake: destroyed if the session closes meanwhile. */
  protected handshaking?: Socket;

  /** Watches a TLS socket until attach(): a peer that goes away mid-handshake closes the session. */
  protected watchHandshake(ts: Socket): void {
    this.handshaking = ts;
    ts.once('close', () => {
      if (this.handshaking !== ts) return; // attached: the stream's own close handler runs
      this.outputClosed = true;
      this.close(null, this.socketErrorCause());
    });
  }

  protected abstract onStreamOpen(attrs: Record<string, string>): void;
  protected abstract onElement(el: XmlElement): void;
  /** Stanza error for queued stanzas when the socket fails. */
  protected abstract socketErrorCause(): StanzaError;
  /** Header we send before a stream error when none was sent yet (RFC 6120 §4.9.1.2). */
  protected abstract errorHeader(): string;

  protected onPeerClose(): void {
    this.close(null, new StanzaError('remote-server-not-found', 'stream closed by peer'));
  }

  send(data: string | Buffer): boolean {
    if (this.outputClosed || !this.socket || this.socket.destroyed) return false;
    if (this.corked || this.state === 'authed') {
      // What is written in one tick leaves as one socket write (one TLS record,
      // one syscall). Begun only once authenticated: no STARTTLS can swap the
      // socket under it; everything after it in the tick joins it, in order.
      // (Held until the I/O callbacks are done instead, an XEP-0198 <r/> sent
      // from such a deferral waits a whole loop turn: vsat-1m bursts kept the
      // bearer less busy.)
      if (!this.corked) {
        this.corked = true;
        const socket = this.socket;
        this.env.runtime.tick(() => {
          this.beforeUncork();
          this.flushTick(socket);
        });
      }
      this.pending.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
      return true;
    }
    this.socket.write(data);
    return true;
  }

  /** Writes what the tick gathered as one write. */
  private flushTick(socket: Socket): void {
    this.corked = false;
    const parts = this.pending;
    if (parts.length === 0) return;
    this.pending = [];
    if (!socket.destroyed) socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }

  /**
   * (Re)starts the idle clock: a stream without stanzas for idleMs is closed
   * cleanly. One timer, not one per stanza: when it fires early (traffic
   * came since it was set) it is set again for the time left.
   */
  protected restartIdle(): void {
    this.lastActive = this.env.runtime.now();
    if (!this.timers.has('idle')) this.idleIn(this.env.timeouts.idleMs);
  }

  private idleIn(ms: number): void {
    this.timer('idle', ms, () => {
      const left = this.lastActive + this.env.timeouts.idleMs - this.env.runtime.now();
      if (left > 0) this.idleIn(left);
      else this.close(null);
    });
  }

  /**
   * A stanza that passed checkStanza (stanza-check.ts): counted, the idle
   * timer restarted, handed over; `sm` acknowledges it once handled (XEP-0198
   * §4) while `current()` says that receiver is still the stream's.
   */
  protected handIn(el: XmlElement, route: { from: string; to: string }, sm: SmReceiver | undefined, current: () => boolean = () => true): void {
    this.env.metrics.tally('s2s_stanzas_in_total', { kind: el.local });
    this.stanzasIn++;
    this.restartIdle();
    const seq = sm ? sm.next() : -1;
    this.env.handOver(el, route, () => {
      if (sm && !this.closed && current()) sm.markHandled(seq);
    }, this.log);
  }

  protected timer(name: string, ms: number, fn: () => void): void {
    this.clearTimer(name);
    const t = this.env.runtime.after(ms, () => {
      this.timers.delete(name);
      if (!this.closed) fn();
    });
    this.timers.set(name, t);
  }

  protected clearTimer(name: string): void {
    const t = this.timers.get(name);
    t?.cancel();
    this.timers.delete(name);
  }

  /** Bounces queued stanzas through onUndeliverable (counted). */
  protected bounceQueue(cause: StanzaError, filter?: (q: QueuedStanza) => boolean): void {
    const keep: QueuedStanza[] = [];
    const drop: QueuedStanza[] = [];
    for (const q of this.queue) (filter && !filter(q) ? keep : drop).push(q);
    this.queue = keep;
    for (const q of drop) {
      this.env.metrics.inc('s2s_undeliverable_total', { condition: cause.condition });
      try {
        this.env.onUndeliverable(q.el, cause);
      } catch (err) {
        this.log.error({ err }, 'onUndeliverable threw');
      }
    }
  }

  /**
   * THE close path (Prosody session_close): optional stream error (RFC 6120
   * §4.9), closing tag (§4.4), no more sends, timers cleared, queued stanzas
   * bounced with `cause`, counted by condition.
   */
  close(err?: StreamError | null, cause?: StanzaError): void {
    if (this.closed) return;
    const prevState = this.state;
    this.state = 'closed';
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.parserGen++;
    this.smReceiver()?.final();
    if (err?.condition === 'system-shutdown') {
      // A normal stop (RFC 6120 §4.9.3.22), not a fault: not counted as a stream error.
      this.log.info({ prevState }, 's2s stream closed: relay stopping');
    } else if (err) {
      this.env.metrics.inc('s2s_stream_errors_total', { condition: err.condition, direction: this.direction });
      this.log.info({ condition: err.condition, text: err.text, prevState }, 's2s stream error');
    }
    if (err) {
      if (!this.headerSent) this.send(this.errorHeader());
      this.send(err.toElement().toBuffer());
    }
    this.env.metrics.inc('s2s_sessions_closed_total', { direction: this.direction });
    if (this.headerSent || err) this.send('</stream:stream>');
    this.outputClosed = true;
    this.handshaking?.destroy();
    const s = this.socket;
    if (s && !s.destroyed) {
      if (this.corked) this.flushTick(s);
      s.end();
      this.env.runtime.after(2000, () => s.destroy());
    }
    const why =
      cause ??
      (err?.condition === 'system-shutdown'
        ? new StanzaError('remote-server-timeout', 'relay shutting down')
        : err?.condition === 'connection-timeout'
          ? new StanzaError('remote-server-timeout')
          : new StanzaError('remote-server-not-found', err ? `stream error ${err.condition}` : 'stream closed'));
    this.closing(why);
    this.bounceQueue(why);
    this.onClosed?.();
  }

  /** The stream's XEP-0198 receiving side, if enabled. */
  protected smReceiver(): SmReceiver | undefined {
    return undefined;
  }

  /** Hook for subclasses to release their own pending work at close. */
  protected closing(_cause: StanzaError): void {}
}

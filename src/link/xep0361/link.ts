/**
 * XEP-0361 link mode: stanzas as top-level children of an implied stream with
 * default namespace jabber:server, over one TCP (optionally TLS) connection,
 * no stream header and no negotiation (XEP-0361 §2-3).
 *
 * Between two satrelays (acks: true) each connection opens with one
 * <link instance next/> element and both sides send XEP-0198 style <a h/>
 * counts, so stanzas unacknowledged at a disconnect are resent on the next
 * connection and the receiver drops the copies it already has. Neither needs a
 * round trip: data follows the <link/> element at once. With acks: false the
 * link is plain XEP-0361 for other implementations.
 */
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes, X509Certificate } from 'node:crypto';
import { StreamParser } from '../../xml/index.ts';
import { XmlElement, x } from '../../xml/element.ts';
import { StanzaError, bounce, type StreamError } from '../../xmpp/errors.ts';
import { NS } from '../../xmpp/ns.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import type { LinkHandlers, LinkStatus, RelayLink } from '../port.ts';
import { ConnectWatch, failureFields } from '../drivers/index.ts';
import { SITE_DEFAULTS, heldTimeoutMs, reconnectMs } from '../../config/defaults.ts';
import { SystemClock, type Cancel, type Clock } from '../../time/index.ts';

/** links[].reconnect of the site file when no back-off is given (config/defaults.ts). */
const RECONNECT = reconnectMs();

export const NS_LINK = 'urn:satrelay:xep0361:0';

export interface Xep0361Options {
  name: string;
  domains: readonly string[];
  bind?: { host: string; port: number };
  peer?: { host: string; port: number };
  acks?: boolean;
  tls?: { certPem: string; keyPem: string; peerFingerprint?: string };
  maxStanzaBytes?: number;
  maxQueued?: number;
  heldTimeoutMs?: number;
  ackDelayMs?: number;
  /** At stop, how long to wait for the partner to confirm stanzas written to it (default 3000 ms). */
  stopAckWaitMs?: number;
  backoff?: { minMs: number; maxMs: number };
  logger?: Logger;
  metrics?: Metrics;
  /** Hold expiry, reconnect back-off, ack delay and the stop wait run on it (tests: simulated time). */
  clock?: Clock;
}

interface Outgoing {
  /** Link number, given when first written so that numbers stay contiguous. */
  n?: number;
  el: XmlElement;
  bytes: Buffer;
  acceptedAt: number;
  written: boolean;
}

export class Xep0361Link implements RelayLink {
  readonly name: string;
  readonly domains: readonly string[];
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly acks: boolean;
  private readonly instance = randomBytes(8).toString('hex');
  private handlers?: LinkHandlers;
  private server?: net.Server;
  private sock?: net.Socket;
  private parser?: StreamParser;
  private stopped = false;
  private readonly clock: Clock;
  private reconnectTimer?: Cancel;
  private expiryTimer?: Cancel;
  private ackTimer?: Cancel;
  private backoffMs: number;
  private lastError?: string;
  // sending side
  private nextNumber = 1;
  private outq: Outgoing[] = [];
  // receiving side
  private peerInstance?: string;
  private received = 0;
  private cursor = 0;
  private ackedToPeer = 0;
  private sentCount = 0;
  private receivedCount = 0;
  /** Local deliveries of stanzas from the partner still in progress (stop waits for them). */
  private readonly delivering = new Set<Promise<void>>();
  /** Set while stop() waits for the partner's <a/>: called on each ack and when the connection closes. */
  private ackWaiter?: () => void;
  private readonly watch?: ConnectWatch;

  constructor(private readonly opts: Xep0361Options) {
    this.name = opts.name;
    this.domains = opts.domains;
    this.log = (opts.logger ?? silentLogger).child({ link: opts.name, transport: 'xep0361' });
    this.metrics = opts.metrics ?? new Metrics();
    this.clock = opts.clock ?? new SystemClock();
    this.acks = opts.acks ?? true;
    this.backoffMs = (opts.backoff ?? RECONNECT).minMs;
    if (!opts.bind && !opts.peer) throw new Error(`link ${opts.name}: xep0361 needs bind or peer`);
    if (opts.peer) this.watch = new ConnectWatch({ target: `${opts.peer.host}:${opts.peer.port}`, log: this.log, metrics: this.metrics, labels: { link: opts.name } });
  }

  /** Actual listening address (after start), when this side listens. */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  async start(handlers: LinkHandlers): Promise<void> {
    this.handlers = handlers;
    if (this.opts.peer) this.dial();
    else await this.listen();
    const tick = (): void => {
      this.expireHeld(this.clock.now());
      this.expiryTimer = this.clock.schedule(1000, tick);
    };
    this.expiryTimer = this.clock.schedule(1000, tick);
  }

  send(el: XmlElement): Promise<void> {
    if (this.stopped) return Promise.reject(new StanzaError('remote-server-timeout', `link ${this.name} is stopped`));
    const bytes = el.toBuffer();
    if (bytes.length > (this.opts.maxStanzaBytes ?? SITE_DEFAULTS.limits.max_stanza_bytes)) {
      return Promise.reject(new StanzaError('policy-violation', 'stanza too large for the link'));
    }
    if (this.outq.length >= (this.opts.maxQueued ?? 10000)) {
      this.metrics.inc('link_refused_total', { link: this.name, reason: 'queue_full' });
      return Promise.reject(new StanzaError('resource-constraint', 'link queue full'));
    }
    const item: Outgoing = { el, bytes, acceptedAt: this.clock.now(), written: false };
    this.outq.push(item);
    if (this.sock && !this.sock.destroyed) this.writeItem(item);
    return Promise.resolve();
  }

  status(): LinkStatus {
    return {
      name: this.name,
      transport: 'xep0361',
      up: !!this.sock && !this.sock.destroyed,
      queued: this.outq.filter((o) => !o.written).length,
      inFlight: this.outq.filter((o) => o.written).length,
      ...failureFields(this.lastError, this.watch?.state),
      sent: this.sentCount,
      received: this.receivedCount,
    };
  }

  /** Drops the current connection (operator "restart link"); the dialing side reconnects. */
  restartConnection(): void {
    this.log.info('link connection restart requested');
    this.sock?.destroy();
  }

  /**
   * Stops without losing a stanza: local deliveries in progress finish (one
   * that cannot is bounced back to the partner while the connection lasts);
   * the partner is asked to acknowledge (XEP-0198 <r/>), so stanzas it took
   * inside its ack delay are not bounced; what it never confirmed is bounced
   * to the local senders, which the relay delivers before S2S closes.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.reconnectTimer?.();
    this.expiryTimer?.();
    await Promise.allSettled([...this.delivering]);
    await this.confirmWritten();
    this.flushAck();
    const sock = this.sock;
    this.sock = undefined;
    if (sock && !sock.destroyed) await new Promise<void>((r) => sock.end(r));
    sock?.destroy();
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
    // Whatever the partner has not acknowledged cannot be carried any more.
    for (const o of this.outq.splice(0)) {
      const text = o.written ? 'relay shutting down; the partner relay did not confirm it' : 'relay shutting down';
      this.handlers?.undeliverable(o.el, new StanzaError('remote-server-timeout', text));
    }
  }

  /** Asks the partner for an ack and waits (bounded) until every written stanza is confirmed. */
  private async confirmWritten(): Promise<void> {
    const unconfirmed = (): boolean => this.outq.some((o) => o.written);
    if (!this.acks || !this.sock || this.sock.destroyed || !unconfirmed()) return;
    this.writeRaw(Buffer.from(x('r', { xmlns: NS.SM }).toString()));
    await new Promise<void>((resolve) => {
      const cancel = this.clock.schedule(this.opts.stopAckWaitMs ?? 3000, () => finish());
      const finish = (): void => {
        cancel();
        this.ackWaiter = undefined;
        resolve();
      };
      this.ackWaiter = () => {
        if (!unconfirmed() || !this.sock || this.sock.destroyed) finish();
      };
    });
  }

  /** The partner counted this stanza as received, but it could not be delivered (the relay is stopping): answer its sender. */
  private deliveryFailed(el: XmlElement, err: unknown): void {
    const reply = bounce(el, new StanzaError('remote-server-timeout', 'relay shutting down'));
    if (reply && this.sock && !this.sock.destroyed) {
      const item: Outgoing = { el: reply, bytes: reply.toBuffer(), acceptedAt: this.clock.now(), written: false };
      this.outq.push(item);
      this.writeItem(item);
      this.metrics.inc('bounces_total', { direction: 'to_link', condition: 'remote-server-timeout' });
      return;
    }
    this.metrics.inc('drops_total', { reason: 'bounce_refused', link: this.name });
    this.log.error({ err: (err as Error)?.message, from: el.attr('from'), to: el.attr('to') }, 'a stanza from the partner could not be delivered or bounced at shutdown');
  }

  private listen(): Promise<void> {
    const onConn = (sock: net.Socket) => {
      if (this.sock && !this.sock.destroyed) {
        this.log.info('partner reconnected; replacing the old connection');
        this.sock.destroy();
      }
      this.attach(sock);
    };
    this.server = this.opts.tls
      ? tls.createServer({ cert: this.opts.tls.certPem, key: this.opts.tls.keyPem, requestCert: true, rejectUnauthorized: false }, onConn)
      : net.createServer(onConn);
    const { host, port } = this.opts.bind!;
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        this.server!.off('error', reject);
        this.server!.on('error', (err) => this.log.error({ err }, 'listener error'));
        this.log.info({ address: this.address }, 'xep0361 link listening');
        resolve();
      });
    });
  }

  private dial(): void {
    if (this.stopped) return;
    const { host, port } = this.opts.peer!;
    const sock = this.opts.tls
      ? tls.connect({ host, port, cert: this.opts.tls.certPem, key: this.opts.tls.keyPem, rejectUnauthorized: false })
      : net.connect({ host, port });
    const connectEvent = this.opts.tls ? 'secureConnect' : 'connect';
    sock.once(connectEvent, () => {
      this.backoffMs = (this.opts.backoff ?? RECONNECT).minMs;
      this.attach(sock);
    });
    sock.once('error', (err) => {
      if (this.sock !== sock) {
        if (!this.stopped) this.watch?.failed(err.message);
        sock.destroy();
        this.scheduleReconnect();
      }
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || !this.opts.peer) return;
    this.reconnectTimer?.();
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, (this.opts.backoff ?? RECONNECT).maxMs);
    this.reconnectTimer = this.clock.schedule(delay, () => this.dial());
  }

  private attach(sock: net.Socket): void {
    if (this.opts.tls?.peerFingerprint) {
      const cert = (sock as tls.TLSSocket).getPeerX509Certificate?.() as X509Certificate | undefined;
      if (!cert || cert.fingerprint256 !== this.opts.tls.peerFingerprint) {
        this.lastError = 'partner certificate does not match the pinned fingerprint';
        this.metrics.inc('link_auth_failures_total', { link: this.name });
        this.log.error({ got: cert?.fingerprint256 }, this.lastError);
        this.watch?.failed(this.lastError);
        sock.destroy();
        this.scheduleReconnect();
        return;
      }
    }
    this.watch?.connected();
    this.sock = sock;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30000);
    this.metrics.inc('link_connects_total', { link: this.name });
    this.log.info('link up');
    this.parser = new StreamParser(
      {
        stanza: (el) => this.onElement(el),
        error: (err) => this.onParseError(sock, err),
      },
      { implicitStream: { defaultNs: NS.SERVER }, maxStanzaBytes: this.opts.maxStanzaBytes },
    );
    const parser = this.parser;
    sock.on('data', (chunk: Buffer) => {
      if (this.sock !== sock) return;
      this.metrics.inc('link_bytes_received_total', { link: this.name }, chunk.length);
      parser.write(chunk);
    });
    sock.on('error', (err) => {
      this.lastError = err.message;
      this.log.warn({ err: err.message }, 'link connection error');
    });
    sock.on('close', () => {
      this.ackWaiter?.();
      if (this.sock !== sock) return;
      this.sock = undefined;
      this.log.warn('link down');
      this.metrics.inc('link_disconnects_total', { link: this.name });
      this.scheduleReconnect();
    });
    // Zero handshake: announce where our numbering resumes, then send at once.
    if (this.acks) {
      const next = this.outq.find((o) => o.written)?.n ?? this.nextNumber;
      this.writeRaw(Buffer.from(`<link xmlns='${NS_LINK}' instance='${this.instance}' next='${next}'/>`));
    }
    for (const o of this.outq) this.writeItem(o);
  }

  private writeRaw(buf: Buffer): void {
    this.sock!.write(buf);
    this.metrics.inc('link_bytes_sent_total', { link: this.name }, buf.length);
  }

  private writeItem(o: Outgoing): void {
    const sock = this.sock!;
    const wasWritten = o.written;
    o.written = true;
    o.n ??= this.nextNumber++;
    this.sentCount++;
    this.metrics.inc('link_stanzas_sent_total', { link: this.name, kind: o.el.local });
    if (wasWritten) this.metrics.inc('link_retransmits_total', { link: this.name });
    if (this.acks) {
      this.writeRaw(o.bytes);
    } else {
      sock.write(o.bytes, (err) => {
        if (!err) this.outq = this.outq.filter((q) => q !== o);
      });
      this.metrics.inc('link_bytes_sent_total', { link: this.name }, o.bytes.length);
    }
  }

  private onParseError(sock: net.Socket, err: StreamError): void {
    this.lastError = `partner sent bad XML: ${err.condition}`;
    this.metrics.inc('link_stream_errors_total', { link: this.name, condition: err.condition });
    this.log.error({ condition: err.condition, text: err.text }, 'closing link connection: bad XML from partner');
    sock.destroy();
  }

  private onElement(el: XmlElement): void {
    if (el.ns === NS_LINK && el.local === 'link') {
      const instance = el.attr('instance') ?? '';
      const next = Number(el.attr('next'));
      if (!Number.isSafeInteger(next) || next < 1) return this.dropControl(el, 'bad next');
      if (instance !== this.peerInstance) {
        if (this.peerInstance) this.log.warn({ instance }, 'partner restarted');
        this.peerInstance = instance;
        this.received = next - 1;
        this.ackedToPeer = -1;
      } else if (next - 1 > this.received) {
        this.log.error({ expected: this.received + 1, next }, 'partner skipped stanzas');
        this.received = next - 1;
      }
      this.cursor = next - 1;
      this.scheduleAck(true);
      return;
    }
    if (el.ns === NS.SM && el.local === 'a') {
      const h = Number(el.attr('h'));
      if (!Number.isSafeInteger(h)) return this.dropControl(el, 'bad h');
      this.outq = this.outq.filter((o) => o.n === undefined || o.n > h);
      this.ackWaiter?.();
      return;
    }
    if (el.ns === NS.SM && el.local === 'r') return this.scheduleAck(true);
    if (el.ns !== NS.SERVER || !['message', 'presence', 'iq'].includes(el.local)) {
      this.metrics.inc('link_dropped_total', { link: this.name, reason: 'unsupported_element' });
      this.log.warn({ name: el.name, ns: el.ns }, 'dropped an element that is not a stanza');
      return;
    }
    if (this.acks && this.peerInstance) {
      this.cursor++;
      if (this.cursor <= this.received) {
        this.metrics.inc('link_duplicates_dropped_total', { link: this.name });
        return;
      }
      this.received = this.cursor;
      this.scheduleAck(false);
    }
    this.receivedCount++;
    this.metrics.inc('link_stanzas_received_total', { link: this.name, kind: el.local });
    let p: Promise<void>;
    try {
      p = Promise.resolve(this.handlers?.deliver(el));
    } catch (err) {
      p = Promise.reject(err);
    }
    // The router bounces what local servers refuse; any other failure means the relay is stopping.
    const tracked = p.catch((err: unknown) => this.deliveryFailed(el, err));
    this.delivering.add(tracked);
    void tracked.then(() => this.delivering.delete(tracked));
  }

  private dropControl(el: XmlElement, why: string): void {
    this.metrics.inc('link_dropped_total', { link: this.name, reason: 'bad_control' });
    this.log.warn({ el: el.toString(), why }, 'dropped a malformed control element');
  }

  private scheduleAck(now: boolean): void {
    if (!this.acks) return;
    if (now || this.received - this.ackedToPeer >= 20) return this.flushAck();
    if (!this.ackTimer) this.ackTimer = this.clock.schedule(this.opts.ackDelayMs ?? 50, () => this.flushAck());
  }

  private flushAck(): void {
    this.ackTimer?.();
    this.ackTimer = undefined;
    if (!this.sock || this.sock.destroyed || this.received === this.ackedToPeer) return;
    this.ackedToPeer = this.received;
    this.writeRaw(Buffer.from(x('a', { xmlns: NS.SM, h: String(this.received) }).toString()));
  }

  /** Stanzas never written to a connection are bounced once held longer than the limit. */
  private expireHeld(now: number): void {
    const limit = this.opts.heldTimeoutMs ?? heldTimeoutMs();
    const expired = this.outq.filter((o) => !o.written && now - o.acceptedAt > limit);
    if (expired.length === 0) return;
    this.outq = this.outq.filter((o) => !expired.includes(o));
    for (const o of expired) {
      this.metrics.inc('link_expired_total', { link: this.name });
      this.handlers?.undeliverable(o.el, new StanzaError('remote-server-timeout', `link ${this.name} down for longer than ${Math.round(limit / 1000)} s`));
    }
  }
}

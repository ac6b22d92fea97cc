/** S2SService: listeners, the outbound session table and the dialback roles. */
import { createServer as netServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createServer as tlsServer } from 'node:tls';
import type { XmlElement } from '../xml/element.ts';
import { StreamError, StanzaError, bounce } from '../xmpp/errors.ts';
import { domainMatches, domainOf } from '../xmpp/jid.ts';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import { verifyDialbackKey } from './dialback-key.ts';
import { InboundSession } from './inbound.ts';
import { OutboundSession } from './outbound.ts';
import { DEFAULT_TIMEOUTS, type S2SContext, type S2SOptions } from './options.ts';
import type { S2SStream } from './stream.ts';
import { TrustPolicy, type PeerCert } from './trust/policy.ts';
import { Admission, DEFAULT_ADMISSION, refuseConnection, type PendingSummary, type Slot } from './admission.ts';
import { RateLimitedLog } from '../obs/log-limit.ts';
import { systemRuntime } from './runtime.ts';
import { readHostPort, type HostPort } from '../config/hostport.ts';

export class S2SError extends Error {
  constructor(
    readonly code: 'S2S_BAD_LISTEN' | 'S2S_LISTEN_FAILED' | 'S2S_STOPPED',
    message: string,
  ) {
    super(message);
    this.name = 'S2SError';
  }
}

/** A connection's remote address and port: the same for a TLS socket and the TCP socket under it. */
const peerKey = (sock: Socket): string => `${sock.remoteAddress}|${sock.remotePort}`;

/** A listener address; S2SError S2S_BAD_LISTEN when it is not "host:port". */
export const parseListen = (s: string): HostPort => readHostPort(s, (message) => new S2SError('S2S_BAD_LISTEN', `listen address: ${message}`));

export interface SessionInfo {
  id: string;
  direction: 'in' | 'out';
  local: string;
  remote: string;
  state: string;
  tls: boolean;
  auth?: 'dialback' | 'sasl-external';
  /** How the peer's certificate was verified, if it was: PKIX or DANE. */
  peerCert?: PeerCert;
  /** XEP-0288 negotiated on this stream. */
  bidi: boolean;
  /** Stanzas received from / written to the local server on this stream. */
  stanzas: { in: number; out: number };
}

export class S2SService {
  readonly addresses: Array<{ host: string; port: number; directTls: boolean }> = [];
  private readonly ctx: S2SContext;
  private readonly servers: Server[] = [];
  private readonly inbound = new Set<InboundSession>();
  private readonly outbound = new Map<string, OutboundSession>();
  private stopping = false;
  private readonly admission: Admission;
  private readonly refusals: RateLimitedLog;
  /** Direct TLS connections in their handshake, by remote address and port: the slot they hold. */
  private readonly handshaking = new Map<string, Slot>();
  /** Callers of send() waiting for the local server to take their stanza. */
  private readonly confirmations = new WeakMap<XmlElement, { resolve: () => void; reject: (err: StanzaError) => void }>();

  constructor(private readonly opts: S2SOptions) {
    const log = opts.logger ?? silentLogger;
    const metrics = opts.metrics ?? new Metrics();
    this.admission = new Admission(opts.admission ?? DEFAULT_ADMISSION);
    this.refusals = new RateLimitedLog(log, 'refused unauthenticated S2S connections over the limit');
    const isLocal = (d: string): boolean => domainMatches(d, opts.localDomains);
    const isServed = (d: string): boolean => !isLocal(d) && opts.servedDomains(d.toLowerCase());
    this.ctx = {
      log,
      metrics,
      opts,
      trust: opts.trust ?? new TrustPolicy({ rules: [], dnssec: { servers: [], trusted: false } }, { tlsRequired: opts.tls.require }),
      maxStanzaBytes: opts.maxStanzaBytes,
      runtime: opts.runtime ?? systemRuntime,
      timeouts: { ...DEFAULT_TIMEOUTS, ...opts.timeouts },
      queueLimit: opts.queueLimit ?? 1000,
      isLocal,
      isServed,
      onUndeliverable: (el, err) => {
        const p = this.confirmations.get(el);
        if (!p) return opts.onUndeliverable(el, err);
        this.confirmations.delete(el);
        p.reject(err);
      },
      taken: (el) => {
        this.confirmations.get(el)?.resolve();
        this.confirmations.delete(el);
      },
      verifyKey: (receiving, originating, streamId, key) => this.session(receiving, originating).verify(streamId, key),
      checkOwnKey: (receiving, originating, streamId, key) => key !== '' && verifyDialbackKey(opts.secret, receiving, originating, streamId, key),
      deliver: (el) => this.deliver(el),
      handOver: (el, route, handled, sessionLog) => {
        let p: Promise<void> | void;
        try {
          p = opts.onStanza(el, route);
        } catch (err) {
          this.refused(el, err, sessionLog);
          return handled();
        }
        if (p && typeof (p as Promise<void>).then === 'function') {
          (p as Promise<void>).then(handled, (err) => {
            this.refused(el, err, sessionLog);
            handled();
          });
        } else handled();
      },
      reverseBidi: (from, local) => [...this.inbound].some((s) => s.coversReverse(from, local)),
    };
  }

  /** onStanza refused a stanza from a local server: bounced to its sender (RFC 6120 §8.3). */
  private refused(el: XmlElement, err: unknown, sessionLog: Logger): void {
    const se = err instanceof StanzaError ? err : new StanzaError('internal-server-error');
    this.ctx.metrics.inc('s2s_dropped_total', { reason: 'refused', condition: se.condition });
    sessionLog.info({ err: (err as Error)?.message }, 'inbound stanza refused');
    const b = bounce(el, se);
    if (b) this.deliver(b);
  }

  async start(): Promise<void> {
    const specs = [
      ...this.opts.listen.map((l) => ({ ...parseListen(l), directTls: false })),
      ...(this.opts.directTlsListen ?? []).map((l) => ({ ...parseListen(l), directTls: true })),
    ];
    for (const spec of specs) {
      const server = spec.directTls
        ? tlsServer({
            SNICallback: this.opts.tls.certs.sniCallback(this.ctx.isServed),
            requestCert: true,
            rejectUnauthorized: false,
            ALPNProtocols: ['xmpp-server'],
          })
        : netServer();
      server.on('connection', (sock: Socket) => this.admit(sock, spec.directTls));
      if (spec.directTls) server.on('secureConnection', (sock: Socket) => this.accept(sock, this.handshaking.get(peerKey(sock))));
      server.on('tlsClientError', (err: Error) => {
        this.ctx.metrics.inc('s2s_tls_failures_total', { direction: 'in' });
        this.ctx.log.info({ err: err.message }, 'direct TLS handshake failed');
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new S2SError('S2S_LISTEN_FAILED', `cannot listen on ${spec.host}:${spec.port}: ${err.message}`)));
        server.listen(spec.port, spec.host, () => resolve());
      });
      server.on('error', (err) => this.ctx.log.error({ err }, 's2s listener error'));
      const a = server.address() as AddressInfo;
      this.addresses.push({ host: a.address, port: a.port, directTls: spec.directTls });
      this.servers.push(server);
    }
  }

  /** A new TCP connection: a pending slot, or refused at once (admission.ts). */
  private admit(sock: Socket, directTls: boolean): void {
    if (this.stopping) return void sock.destroy();
    const address = sock.remoteAddress ?? '';
    const slot = this.admission.admit(address);
    if (typeof slot === 'string') {
      this.ctx.metrics.inc('s2s_connections_refused_total', { reason: slot });
      const { pending, limits } = this.admission.summary();
      this.refusals.hit({ reason: slot, address, pending, limit: slot === 'total' ? limits.maxPending : limits.maxPendingPerAddress });
      // No stream can be opened before TLS on a Direct TLS port: just closed.
      return directTls ? void sock.destroy() : refuseConnection(sock, slot, this.ctx.runtime);
    }
    if (!directTls) return this.accept(sock, slot);
    const key = peerKey(sock);
    this.handshaking.set(key, slot);
    sock.once('close', () => {
      slot.release();
      if (this.handshaking.get(key) === slot) this.handshaking.delete(key);
    });
  }

  private accept(sock: Socket, slot: Slot | undefined): void {
    if (this.stopping) return void sock.destroy();
    this.ctx.metrics.inc('s2s_sessions_opened_total', { direction: 'in' });
    const s = new InboundSession(this.ctx, sock);
    s.slot = slot;
    this.inbound.add(s);
    s.onClosed = () => {
      this.inbound.delete(s);
      slot?.release();
    };
  }

  /** Unauthenticated inbound connections now, and how many were refused (for status and gauges). */
  pendingSummary(): PendingSummary {
    return this.admission.summary();
  }

  /** The outbound session for (served from, local to), created on demand. */
  private session(from: string, to: string): OutboundSession {
    const k = `${from}\n${to}`;
    let s = this.outbound.get(k);
    if (s && !s.closed) return s;
    s = new OutboundSession(this.ctx, from, to);
    this.outbound.set(k, s);
    const me = s;
    s.onClosed = () => {
      if (this.outbound.get(k) === me) this.outbound.delete(k);
    };
    this.ctx.metrics.inc('s2s_sessions_opened_total', { direction: 'out' });
    if (this.stopping) {
      queueMicrotask(() => me.close(null, new StanzaError('remote-server-timeout', 'relay shutting down')));
    } else {
      void s.start().catch((err) => {
        this.ctx.log.error({ err }, 'outbound session failed');
        me.close(null, new StanzaError('remote-server-not-found'));
      });
    }
    return s;
  }

  /**
   * Like deliver(), but resolves once the local server has the stanza (written
   * to an authenticated stream, or acked under XEP-0198) and rejects with the
   * StanzaError instead of calling onUndeliverable.
   */
  send(stanza: XmlElement): Promise<void> {
    return new Promise((resolve, reject) => {
      this.confirmations.set(stanza, { resolve, reject });
      this.deliver(stanza);
    });
  }

  /**
   * Sets (or, with undefined, removes) the static route to a local domain,
   * e.g. once the server behind it has picked its port. New sessions use it.
   */
  setRoute(domain: string, hostPort: string | undefined): void {
    const routes = (this.opts.routes ??= {});
    if (hostPort === undefined) delete routes[domain];
    else routes[domain] = hostPort;
  }

  /** From a served remote domain to a local domain. */
  deliver(stanza: XmlElement): void {
    const from = domainOf(stanza.attr('from'));
    const to = domainOf(stanza.attr('to'));
    if (!from || !to) return this.reject(stanza, 'bad-request', 'stanza without from/to');
    if (this.stopping) return this.reject(stanza, 'remote-server-timeout', 'relay shutting down');
    if (!this.ctx.isServed(from)) return this.reject(stanza, 'bad-request', `${from} is not a served domain`);
    if (!this.ctx.isLocal(to)) return this.reject(stanza, 'remote-server-not-found', `${to} is not a local domain`);
    // XEP-0288: an authenticated bidi stream from the local server is preferred,
    // unless stanzas still wait in the outbound session (they must not be overtaken)
    const out = this.outbound.get(`${from}\n${to}`);
    if (!out || out.closed || out.queued === 0) {
      for (const s of this.inbound) if (s.canSend(from, to)) return s.sendStanza(stanza);
    }
    this.session(from, to).enqueue(stanza);
  }

  private reject(stanza: XmlElement, cond: 'remote-server-not-found' | 'remote-server-timeout' | 'bad-request', text: string): void {
    this.ctx.metrics.inc('s2s_undeliverable_total', { condition: cond });
    this.ctx.onUndeliverable(stanza, new StanzaError(cond, text));
  }

  sessions(): SessionInfo[] {
    const all: S2SStream[] = [...this.inbound, ...this.outbound.values()];
    return all.map((s) => {
      const io = s as InboundSession | OutboundSession;
      return {
        id: s.id,
        direction: s.direction,
        local: io.localDomain,
        remote: io.remoteDomain,
        state: s.state,
        tls: s.tls,
        auth: s.auth,
        peerCert: s.peerCert,
        bidi: s.bidi,
        stanzas: { in: s.stanzasIn, out: s.stanzasOut },
      };
    });
  }

  /** Closes every stream with <system-shutdown/>; queued stanzas are bounced. */
  async stop(_reason: 'system-shutdown' = 'system-shutdown'): Promise<void> {
    this.stopping = true;
    this.refusals.close();
    const socks = [...this.inbound, ...this.outbound.values()].map((s) => s.socket).filter((s): s is Socket => !!s);
    for (const s of [...this.inbound, ...this.outbound.values()]) {
      s.close(new StreamError('system-shutdown'), new StanzaError('remote-server-timeout', 'relay shutting down'));
    }
    await Promise.all(this.servers.map((srv) => new Promise<void>((r) => srv.close(() => r()))));
    await Promise.all(
      socks.map(
        (s) =>
          new Promise<void>((r) => {
            if (s.destroyed) return r();
            s.once('close', () => r());
            setTimeout(() => {
              s.destroy();
              r();
            }, 500).unref();
          }),
      ),
    );
  }
}

/**
 * Outbound S2S session for one (served from-domain, local to-domain) pair:
 * resolve, connect (TCP or XEP-0368 direct TLS), STARTTLS, SASL EXTERNAL or
 * dialback in the originating role; carries db:verify requests for the
 * receiving role; queues stanzas (bounded) until authenticated. XEP-0288:
 * where the local server offers bidi, asks for it and then accepts stanzas
 * from the local domain to the served one on this stream (checked as inbound).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket, type ConnectionOptions } from 'node:tls';
import { x, type XmlElement } from '../xml/element.ts';
import { StreamError, StanzaError } from '../xmpp/errors.ts';
import { NS } from '../xmpp/ns.ts';
import { verifyPeerIdentity } from './tls/index.ts';
import { dialbackKey } from './dialback-key.ts';
import { S2SStream, SmReceiver, streamHeader } from './stream.ts';
import type { S2SContext } from './options.ts';
import type { ConnectTarget } from './trust/policy.ts';
import { checkStanza, isStanza, type StanzaAuth } from './stanza-check.ts';

interface PendingVerify {
  id: string;
  key: string;
  sent: boolean;
  done(ok: boolean): void;
}

export class OutboundSession extends S2SStream {
  readonly direction = 'out' as const;
  /** Stream id the receiving server gave us (XEP-0220 §2.1.1 key input). */
  streamId?: string;
  private verifies: PendingVerify[] = [];
  private verifyReady = false;
  private saslTried = false;
  private dialbackOffered = false;
  private failCause = new StanzaError('remote-server-not-found');
  private smOffered = false;
  /** XEP-0198 as the sending side: stanzas sent since <enable/> and not yet acked. */
  private sm?: { enabled: boolean; unacked: XmlElement[]; acked: number; rPending: boolean };
  /** An <r/> to write with the corked stanzas at the end of the tick. */
  private rAtUncork?: { rPending: boolean };
  /** XEP-0198 for stanzas the peer sends us on a bidi stream, counted from <enabled/>. */
  private smIn?: SmReceiver;
  /** Where this session connected (with its TLSA state, trust/). */
  private target?: ConnectTarget;

  constructor(
    private readonly ctx: S2SContext,
    readonly from: string,
    readonly to: string,
  ) {
    super(ctx, 'resolving', 'out-');
  }

  get localDomain(): string {
    return this.from;
  }

  get remoteDomain(): string {
    return this.to;
  }

  protected socketErrorCause(): StanzaError {
    return this.failCause;
  }

  protected errorHeader(): string {
    this.headerSent = true;
    return streamHeader({ from: this.from, to: this.to });
  }

  /** Stanzas waiting for authentication. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queue a stanza; sent at once when authenticated. */
  enqueue(el: XmlElement): void {
    if (this.state === 'authed') return this.write(el);
    if (this.queue.length >= this.ctx.queueLimit) {
      this.ctx.metrics.inc('s2s_dropped_total', { reason: 'queue-full' });
      this.ctx.metrics.inc('s2s_undeliverable_total', { condition: 'resource-constraint' });
      this.ctx.onUndeliverable(el, new StanzaError('resource-constraint', 'S2S send queue full'));
      return;
    }
    this.queue.push({ el, at: this.ctx.runtime.now() });
    if (this.queue.length === 1) this.armQueueTimer();
  }

  /** Stanzas older than queueMs are bounced with remote-server-timeout. */
  private armQueueTimer(): void {
    const oldest = this.queue[0];
    if (!oldest) return;
    const due = Math.max(0, oldest.at + this.ctx.timeouts.queueMs - this.ctx.runtime.now());
    this.timer('queue', due, () => {
      const now = this.ctx.runtime.now();
      this.bounceQueue(new StanzaError('remote-server-timeout', 'not delivered in time'), (q) => now - q.at >= this.ctx.timeouts.queueMs);
      this.armQueueTimer();
    });
  }

  private write(el: XmlElement): void {
    // unedited stanzas go out as their exact bytes
    if (this.send(el.toBuffer())) {
      this.stanzasOut++;
      this.ctx.metrics.tally('s2s_stanzas_out_total', { kind: el.local });
    }
    if (this.sm) {
      this.sm.unacked.push(el);
      this.requestAck();
    } else {
      this.ctx.taken(el);
    }
    this.restartIdle();
  }

  /** Receiving role: ask this (local) authoritative server about a key (XEP-0220 §2.1.2). */
  verify(id: string, key: string): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(false);
      const v: PendingVerify = { id, key, sent: false, done: resolve };
      this.verifies.push(v);
      if (this.verifyReady) this.sendVerify(v);
    });
  }

  private sendVerify(v: PendingVerify): void {
    v.sent = true;
    this.send(x('db:verify', { from: this.from, to: this.to, id: v.id }, v.key).toBuffer());
  }

  /** Resolve (RFC 6120 §3.2, XEP-0368), connect, send the header. */
  async start(): Promise<void> {
    this.timer('connect', this.ctx.timeouts.connectMs, () => {
      this.ctx.metrics.inc('s2s_connect_failures_total', { reason: 'timeout' });
      this.close(null, new StanzaError('remote-server-timeout', 'connect timed out'));
    });
    let targets: ConnectTarget[];
    try {
      targets = await this.ctx.trust.resolve(this.to, {
        routes: this.ctx.opts.routes,
        servers: this.ctx.opts.dnsServers,
        timeoutMs: this.ctx.timeouts.connectMs,
        logger: this.log,
        metrics: this.ctx.metrics,
      });
    } catch (err) {
      this.log.info({ err: (err as Error).message }, 'cannot resolve');
      targets = [];
    }
    if (this.closed) return;
    if (targets.length === 0) {
      this.ctx.metrics.inc('s2s_connect_failures_total', { reason: 'resolve' });
      return this.close(null, new StanzaError('remote-server-not-found', `cannot resolve ${this.to}`));
    }
    this.setState('connecting');
    for (const t of targets) {
      const sock = await this.tryConnect(t).catch((err: Error) => {
        this.log.debug({ target: t, err: err.message }, 'connect failed');
        return undefined;
      });
      if (this.closed) {
        sock?.destroy();
        return;
      }
      if (sock) {
        this.clearTimer('connect');
        this.timer('auth', this.ctx.timeouts.authMs, () => this.close(new StreamError('connection-timeout', 'not authenticated in time'), new StanzaError('remote-server-timeout')));
        this.target = t;
        this.attach(sock);
        if (t.directTls && !this.trusted(sock as TLSSocket)) return;
        this.openStream();
        return;
      }
    }
    this.ctx.metrics.inc('s2s_connect_failures_total', { reason: 'connect' });
    this.close(null, new StanzaError('remote-server-not-found', `cannot connect to ${this.to}`));
  }

  private tlsOptions(): ConnectionOptions {
    const reject = this.ctx.opts.tls.rejectUntrusted === true;
    return {
      servername: this.to, // SNI = the local domain
      secureContext: this.ctx.opts.tls.certs.forDomain(this.from), // our cert for the served from-domain
      rejectUnauthorized: reject,
      // RFC 6125 identity of the local domain, not the host name we dialled
      checkServerIdentity: (_host, cert) => {
        const r = verifyPeerIdentity(this.to, cert);
        return r.ok ? undefined : new Error(r.reason);
      },
    };
  }

  private tryConnect(t: { host: string; port: number; directTls: boolean }): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const sock: Socket = t.directTls
        ? tlsConnect({ host: t.host, port: t.port, ALPNProtocols: ['xmpp-server'], ...this.tlsOptions() })
        : netConnect({ host: t.host, port: t.port });
      const ok = (): void => {
        sock.off('error', bad);
        resolve(sock);
      };
      const bad = (err: Error): void => {
        sock.destroy();
        reject(err);
      };
      sock.once(t.directTls ? 'secureConnect' : 'connect', ok);
      sock.once('error', bad);
    });
  }

  private openStream(): void {
    this.headerSent = true;
    this.send(streamHeader({ from: this.from, to: this.to }));
    this.setState('wait-header');
  }

  protected onStreamOpen(a: Record<string, string>): void {
    if (a.xmlns !== NS.SERVER) return this.close(new StreamError('invalid-namespace'));
    this.streamId = a.id;
    if (a.version === undefined) {
      // pre-1.0 server: dialback straight away (RFC 6120 §4.7.5)
      if (this.ctx.trust.tlsRequired(this.to, this.target)) return this.close(new StreamError('policy-violation', 'encryption-required'));
      this.setState('wait-features');
      this.dialbackOffered = true;
      return this.startDialback();
    }
    this.setState('wait-features');
  }

  protected onElement(el: XmlElement): void {
    if (el.ns === NS.STREAM && el.local === 'features') return this.features(el);
    if (el.ns === NS.STREAM && el.local === 'error') {
      const err = StreamError.fromElement(el);
      this.ctx.metrics.inc('s2s_peer_stream_errors_total', { condition: err.condition });
      // system-shutdown: the local server is stopping (RFC 6120 §4.9.3.22), a normal event.
      this.log.info({ condition: err.condition, text: err.text }, err.condition === 'system-shutdown' ? 'local server closed the s2s stream: it is stopping' : 'peer sent stream error');
      return this.close(null, new StanzaError('remote-server-not-found', `peer stream error ${err.condition}`));
    }
    if (el.ns === NS.TLS && el.local === 'proceed' && this.state === 'tls') return this.upgradeTls();
    if (el.ns === NS.TLS && el.local === 'failure') return this.close(null, new StanzaError('remote-server-not-found', 'STARTTLS failed'));
    if (el.ns === NS.SASL && this.state === 'sasl') return this.saslReply(el);
    if (el.ns === NS.DIALBACK && el.local === 'result') return this.dbResult(el);
    if (el.ns === NS.DIALBACK && el.local === 'verify') return this.dbVerifyReply(el);
    if (el.ns === NS.SM) return this.smElement(el);
    if (this.bidi && isStanza(el)) return this.peerStanza(el);
    // Nothing else is expected on an outbound stream.
    this.close(new StreamError('unsupported-stanza-type', `${el.name} on an outbound stream`));
  }

  /** Feature negotiation (RFC 6120 §4.3.2): TLS, then SASL EXTERNAL, else dialback. */
  private features(f: XmlElement): void {
    if (this.state !== 'wait-features') return this.close(new StreamError('policy-violation', 'unexpected features'));
    if (this.auth === 'sasl-external') {
      this.smOffered = !!f.getChild('sm', NS.SM);
      return this.setState('authed', 'sasl restart');
    }
    const starttls = f.getChild('starttls', NS.TLS);
    if (!this.tls && starttls && this.ctx.opts.tls.enabled !== false) {
      this.setState('tls');
      this.send(`<starttls xmlns='${NS.TLS}'/>`);
      return;
    }
    this.smOffered = !!f.getChild('sm', NS.SM);
    if (!this.tls && this.ctx.trust.tlsRequired(this.to, this.target)) return this.refuse('tls_required', 'encryption-required');
    const untrusted = this.tls ? undefined : this.ctx.trust.untrustedAllowed(this.to, 'no TLS');
    if (untrusted && !untrusted.ok) return this.refuse(untrusted.reason, untrusted.text);
    this.dialbackOffered = !!f.getChild('dialback', NS.DIALBACK_FEATURE);
    this.maybeBidi(f);
    this.verifyReady = true;
    for (const v of this.verifies) if (!v.sent) this.sendVerify(v);
    const mechs = f.getChild('mechanisms', NS.SASL)?.getChildren('mechanism').map((m) => m.text().trim()) ?? [];
    if (this.tls && !this.saslTried && mechs.includes('EXTERNAL')) {
      // XEP-0178 §3
      this.saslTried = true;
      this.setState('sasl');
      this.send(x('auth', { xmlns: NS.SASL, mechanism: 'EXTERNAL' }, Buffer.from(this.from).toString('base64')).toBuffer());
      return;
    }
    this.startDialback();
  }

  /**
   * XEP-0288 §2.2: after STARTTLS, before SASL or dialback, ask for bidi when
   * offered; not when a bidi stream from the peer already covers the reverse
   * direction (that one carries our stanzas, this one stays one-way).
   */
  private maybeBidi(f: XmlElement): void {
    if (this.bidi || this.ctx.opts.bidi !== true || !f.getChild('bidi', NS.BIDI_FEATURE)) return;
    if (this.ctx.reverseBidi(this.from, this.to)) return;
    this.send(`<bidi xmlns='${NS.BIDI}'/>`);
    this.bidi = true;
    this.ctx.metrics.inc('s2s_bidi_total', { direction: 'out' });
    this.log.info({ from: this.from, to: this.to }, 'outbound stream is bidirectional (XEP-0288)');
  }

  /** XEP-0288 §2.2/§3: on our bidi stream, once authenticated, only the reverse of our pair: the peer domain (this.to) to the served domain we authenticated as (this.from). */
  private readonly stanzaAuth: StanzaAuth = {
    authenticated: () => this.state === 'authed',
    hasFrom: (from) => from === this.to,
    mayReach: (_from, to) => to === this.from,
    isServed: (to) => this.ctx.isServed(to),
  };

  /** A stanza from the local server on our bidi stream: checked as inbound ones (RFC 6120 §8), then handed over. */
  private peerStanza(el: XmlElement): void {
    const route = checkStanza(el, this.stanzaAuth);
    if (route instanceof StreamError) return this.close(route);
    const sm = this.smIn;
    this.handIn(el, route, sm, () => this.smIn === sm);
  }

  protected override smReceiver(): SmReceiver | undefined {
    return this.smIn;
  }

  private upgradeTls(): void {
    const raw = this.detachForTls();
    const ts: TLSSocket = tlsConnect({ socket: raw, ...this.tlsOptions() });
    this.watchHandshake(ts);
    ts.once('secureConnect', () => {
      this.headerSent = false; // nothing sent on the TLS layer yet
      this.attach(ts);
      if (this.trusted(ts)) this.openStream(); // RFC 6120 §5.4.3.3 stream restart
    });
    ts.on('error', (err) => {
      this.ctx.metrics.inc('s2s_tls_failures_total', { direction: 'out' });
      this.log.info({ err: err.message }, 'outbound TLS failed');
      this.close(null, new StanzaError('remote-server-not-found', `TLS failed: ${err.message}`));
    });
  }

  /** TLS is up: the peer's certificate against the domain's trust rule (DANE, PKIX); refuses the session when it fails. */
  private trusted(ts: TLSSocket): boolean {
    const v = this.ctx.trust.assessOutbound(ts, this.to, this.target ?? { host: '', port: 0, directTls: false }, this.log, this.ctx.metrics);
    if (v.ok) {
      this.peerCert = v.peerCert;
      return true;
    }
    this.refuse(v.reason, v.text);
    return false;
  }

  /** The trust rule refuses the peer: policy-violation (RFC 6120 §4.9.3.14), queued stanzas bounced. */
  private refuse(reason: string, text: string): void {
    this.ctx.metrics.inc('s2s_trust_refusals_total', { reason, direction: 'out' });
    this.log.warn({ domain: this.to, reason, text }, 'S2S session refused by the trust rule');
    this.close(new StreamError('policy-violation', text), new StanzaError('remote-server-not-found', `${this.to}: ${text}`));
  }

  private saslReply(el: XmlElement): void {
    if (el.local === 'success') {
      this.auth = 'sasl-external';
      this.ctx.metrics.inc('s2s_auth_total', { method: 'sasl-external', result: 'success', direction: 'out' });
      this.newParser();
      this.openStream();
      return;
    }
    this.ctx.metrics.inc('s2s_auth_total', { method: 'sasl-external', result: 'failure', direction: 'out' });
    if (this.dialbackOffered) return this.startDialback();
    this.close(null, new StanzaError('remote-server-not-found', 'SASL EXTERNAL failed and no dialback'));
  }

  /** Originating role, XEP-0220 §2.1.1: db:result with our key. */
  private startDialback(): void {
    if (!this.streamId) return this.close(new StreamError('invalid-xml', 'no stream id for dialback'));
    this.verifyReady = true;
    for (const v of this.verifies) if (!v.sent) this.sendVerify(v);
    this.setState('dialback');
    const key = dialbackKey(this.ctx.opts.secret, this.to, this.from, this.streamId);
    this.send(x('db:result', { from: this.from, to: this.to }, key).toBuffer());
  }

  private dbResult(el: XmlElement): void {
    if (this.state !== 'dialback' || el.attr('from')?.toLowerCase() !== this.to || el.attr('to')?.toLowerCase() !== this.from) return;
    const type = el.attr('type');
    this.ctx.metrics.inc('s2s_dialback_total', { role: 'originating', result: type ?? 'none' });
    if (type === 'valid') {
      this.auth = 'dialback';
      this.ctx.metrics.inc('s2s_auth_total', { method: 'dialback', result: 'success', direction: 'out' });
      return this.setState('authed', 'dialback valid');
    }
    this.ctx.metrics.inc('s2s_auth_total', { method: 'dialback', result: 'failure', direction: 'out' });
    this.close(null, new StanzaError('remote-server-not-found', `dialback ${type ?? 'failed'}`));
  }

  private dbVerifyReply(el: XmlElement): void {
    const i = this.verifies.findIndex((v) => v.sent && v.id === el.attr('id'));
    if (i < 0) return;
    const [v] = this.verifies.splice(i, 1);
    v.done(el.attr('type') === 'valid');
  }

  /**
   * XEP-0198 §4: one <r/> per burst, once <enabled/> arrived. When the
   * burst's stanzas are corked (send()), the <r/> joins their write at the
   * end of the tick: one write instead of two per burst, as the relay
   * delivers to a local server a window of stanzas (default one) at a time.
   */
  private requestAck(): void {
    const sm = this.sm;
    if (!sm?.enabled || sm.rPending || sm.unacked.length === 0) return;
    sm.rPending = true;
    if (this.corked) {
      this.rAtUncork = sm;
      return;
    }
    this.ctx.runtime.soon(() => {
      if (this.closed || this.sm !== sm) return;
      sm.rPending = false;
      this.send(`<r xmlns='${NS.SM}'/>`);
    });
  }

  protected override beforeUncork(): void {
    const sm = this.rAtUncork;
    this.rAtUncork = undefined;
    if (!sm || this.closed || this.sm !== sm) return;
    sm.rPending = false;
    this.send(`<r xmlns='${NS.SM}'/>`);
  }

  private smElement(el: XmlElement): void {
    const sm = this.sm;
    if (el.local === 'r') {
      // stanzas arrive here only on a bidi stream
      if (this.smIn) return this.smIn.requested();
      return void this.send(`<a xmlns='${NS.SM}' h='0'/>`);
    }
    if (!sm) return;
    if (el.local === 'enabled') {
      sm.enabled = true;
      if (this.bidi) this.smIn = new SmReceiver((h) => this.send(`<a xmlns='${NS.SM}' h='${h}'/>`), this.ctx.runtime);
      this.ctx.metrics.inc('s2s_sm_enabled_total', { direction: 'out' });
      return this.requestAck();
    }
    if (el.local === 'failed') {
      for (const u of sm.unacked) this.ctx.taken(u); // written before acks were refused
      this.sm = undefined; // carry on without acks
      return;
    }
    if (el.local === 'a') {
      const h = Number(el.attr('h'));
      const n = (h - sm.acked + 2 ** 32) % 2 ** 32;
      if (!Number.isInteger(h) || n > sm.unacked.length) return this.close(new StreamError('undefined-condition', 'bad XEP-0198 ack'));
      for (const u of sm.unacked.splice(0, n)) this.ctx.taken(u);
      sm.acked = h;
      this.ctx.metrics.inc('s2s_sm_acked_total', {}, n);
    }
  }

  /** Sent stanzas the peer has not acknowledged (XEP-0198), oldest first. */
  get unacked(): number {
    return this.sm?.unacked.length ?? 0;
  }

  protected override onAuthed(): void {
    this.clearTimer('auth');
    this.clearTimer('queue');
    if (this.smOffered) {
      this.send(`<enable xmlns='${NS.SM}'/>`);
      this.sm = { enabled: false, unacked: [], acked: 0, rPending: false };
    }
    const q = this.queue;
    this.queue = [];
    for (const s of q) this.write(s.el);
    this.restartIdle();
  }

  protected override onPeerClose(): void {
    this.close(null, new StanzaError('remote-server-not-found', 'stream closed by peer'));
  }

  protected override closing(): void {
    // XEP-0198: what the peer did not acknowledge is bounced with the queue
    if (this.sm?.unacked.length) {
      this.ctx.metrics.inc('s2s_sm_unacked_total', {}, this.sm.unacked.length);
      this.queue = [...this.sm.unacked.map((el) => ({ el, at: 0 })), ...this.queue];
    }
    this.sm = undefined;
    this.smIn = undefined;
    const v = this.verifies;
    this.verifies = [];
    for (const p of v) p.done(false);
  }
}

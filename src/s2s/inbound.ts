/**
 * Inbound S2S session: a local server connects to the relay as if the relay
 * were the remote (served) domain. STARTTLS, SASL EXTERNAL, dialback in the
 * receiving role (and authoritative answers on any stream), stanza checks.
 * XEP-0288: when the peer asks for bidi, the relay also sends stanzas to the
 * peer on this stream, for the reverse of each authenticated pair.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { x, type XmlElement } from '../xml/element.ts';
import { StreamError, StanzaError } from '../xmpp/errors.ts';
import { NS } from '../xmpp/ns.ts';
import { assessPeer } from './tls/index.ts';
import { S2SStream, SmReceiver, newId, streamHeader } from './stream.ts';
import type { S2SContext } from './options.ts';
import type { Slot } from './admission.ts';
import { checkStanza, type StanzaAuth } from './stanza-check.ts';

export class InboundSession extends S2SStream {
  readonly direction = 'in' as const;
  /** Stream id we gave in our header (dialback keys bind to it, XEP-0220 §2.1.1). */
  streamId = newId(this.env.runtime);
  /** Header 'to' / 'from' of the current stream. */
  to?: string;
  from?: string;
  /** Authenticated (originating local domain -> served domains) pairs (XEP-0220 §2.4 multiplexing). */
  readonly authed = new Map<string, Set<string>>();
  private saslDone = false;
  private pendingResults = 0;
  /** Pairs ('from\nto') whose db:result is being verified. */
  private readonly verifying = new Set<string>();
  /** XEP-0198 as the receiving side: stanzas counted since <enable/>. */
  private sm?: SmReceiver;
  /** Admission slot, held until authenticated (admission.ts). */
  slot?: Slot;

  constructor(private readonly ctx: S2SContext, socket: Socket) {
    super(ctx, 'wait-header', 'in-');
    this.attach(socket);
    this.timer('auth', ctx.timeouts.authMs, () => this.close(new StreamError('connection-timeout', 'not authenticated in time')));
  }

  protected socketErrorCause(): StanzaError {
    return new StanzaError('remote-server-not-found', 'connection lost');
  }

  protected errorHeader(): string {
    this.headerSent = true;
    return streamHeader({ from: this.to && this.ctx.isServed(this.to) ? this.to : undefined, id: this.streamId });
  }

  get localDomain(): string {
    return this.to ?? '';
  }

  /** The local domains authenticated on this stream; never the unverified header 'from'. */
  get remoteDomain(): string {
    return [...this.authed.keys()].join(' ');
  }

  protected onStreamOpen(a: Record<string, string>): void {
    this.to = a.to?.toLowerCase();
    this.from = a.from?.toLowerCase();
    // RFC 6120 §4.8.2: content namespace of a server stream
    if (a.xmlns !== NS.SERVER) return this.close(new StreamError('invalid-namespace', `content namespace ${a.xmlns ?? '(none)'}`));
    const version = a.version;
    if (version !== undefined && !/^1\.\d+$/.test(version)) return this.close(new StreamError('unsupported-version'));
    // RFC 6120 §4.9.3.6: we must serve the 'to' domain
    if (this.to !== undefined && !this.ctx.isServed(this.to)) return this.close(new StreamError('host-unknown', `not serving ${this.to}`));
    if (this.from !== undefined && !this.ctx.isLocal(this.from)) return this.close(new StreamError('host-unknown', `not accepting streams from ${this.from}`));
    this.streamId = newId(this.ctx.runtime);
    this.headerSent = true;
    this.send(streamHeader({ from: this.to, to: this.from, id: this.streamId, version: version !== undefined }));
    if (version === undefined) {
      // pre-1.0 peer: no features, dialback only (RFC 6120 §4.7.5)
      if (this.ctx.trust.tlsRequired(this.from)) return this.close(new StreamError('policy-violation', 'encryption-required'));
      this.setState('open', 'legacy stream');
      return;
    }
    this.send(this.features().toBuffer());
    if (this.state === 'wait-header') this.setState(this.saslDone ? 'authed' : 'open', 'header');
  }

  /** Stream features (RFC 6120 §4.3.2): STARTTLS first, then SASL EXTERNAL / dialback. */
  private features(): XmlElement {
    const f = x('stream:features', {});
    const sm = x('sm', { xmlns: NS.SM }, x('optional', {})); // XEP-0198 §3 (enabled once authenticated)
    if (this.saslDone) return f.append(sm);
    const require = this.ctx.trust.tlsRequired(this.from);
    if (!this.tls && this.ctx.opts.tls.enabled !== false) {
      f.append(x('starttls', { xmlns: NS.TLS }, require ? x('required', {}) : undefined));
      if (require) return f;
    } else if (this.from && this.canExternal()) {
      // XEP-0178 §2: offer EXTERNAL only for a trusted cert matching 'from'
      f.append(x('mechanisms', { xmlns: NS.SASL }, x('mechanism', {}, 'EXTERNAL')));
    }
    f.append(x('dialback', { xmlns: NS.DIALBACK_FEATURE }, x('errors', {})));
    // XEP-0288 §2.1; STARTTLS comes first when TLS is on (§2.2)
    if (this.bidiAllowed()) f.append(x('bidi', { xmlns: NS.BIDI_FEATURE }));
    return f.append(sm);
  }

  private bidiAllowed(): boolean {
    return this.ctx.opts.bidi === true && (this.tls || this.ctx.opts.tls.enabled === false);
  }

  /** XEP-0288 §2.2: <bidi/> before authentication; no reply. */
  private requestBidi(): void {
    if (!this.bidiAllowed()) return this.close(new StreamError('unsupported-feature', 'bidi not offered'));
    if (this.saslDone || this.authed.size > 0 || (this.state !== 'open' && this.state !== 'dialback')) {
      return this.close(new StreamError('policy-violation', 'bidi after authentication'));
    }
    if (this.bidi) return;
    this.bidi = true;
    this.ctx.metrics.inc('s2s_bidi_total', { direction: 'in' });
    this.log.info({ from: this.from, to: this.to }, 'inbound stream is bidirectional (XEP-0288)');
  }

  /**
   * XEP-0288 §2.2: on a bidi stream the relay may send from `from` (served) to
   * `to` (local) once `to` authenticated for `from` here (SASL: the stream's
   * 'to'; dialback: the reverse of a verified pair).
   */
  canSend(from: string, to: string): boolean {
    return this.bidi && this.state === 'authed' && !!this.socket && !this.socket.destroyed && !!this.authed.get(to)?.has(from);
  }

  /** Whether this stream covers, or is authenticating, local `to` for served `from` (see canSend). */
  coversReverse(from: string, to: string): boolean {
    if (!this.bidi || this.closed) return false;
    return !!this.authed.get(to)?.has(from) || this.verifying.has(`${to}\n${from}`) || (this.from === to && this.to === from);
  }

  /** Writes a stanza to the peer (caller checked canSend); the unedited bytes go out as received. */
  sendStanza(el: XmlElement): void {
    if (!this.send(el.toBuffer())) {
      this.ctx.metrics.inc('s2s_undeliverable_total', { condition: 'remote-server-not-found' });
      this.ctx.onUndeliverable(el, new StanzaError('remote-server-not-found', 'connection lost'));
      return;
    }
    this.stanzasOut++;
    this.ctx.metrics.tally('s2s_stanzas_out_total', { kind: el.local });
    // no XEP-0198 acks are requested for this direction: taken once written
    this.ctx.taken(el);
    this.restartIdle();
  }

  /** The peer's certificate verifies (PKIX chain and RFC 6125 identity) for `from`; noted for status. */
  private certTrusted(from: string): boolean {
    const ok = this.socket instanceof TLSSocket && assessPeer(this.socket, from).canExternal;
    if (ok) this.peerCert = 'pkix';
    return ok;
  }

  /** The trust rule refuses the peer (RFC 6120 §4.9.3.14). */
  private refuse(reason: string, text: string): void {
    this.ctx.metrics.inc('s2s_trust_refusals_total', { reason, direction: 'in' });
    this.log.warn({ domain: this.from, reason, text }, 'S2S session refused by the trust rule');
    this.close(new StreamError('policy-violation', text));
  }

  private canExternal(): boolean {
    if (!(this.socket instanceof TLSSocket) || !this.from) return false;
    return assessPeer(this.socket, this.from).canExternal;
  }

  protected onElement(el: XmlElement): void {
    if (el.ns === NS.STREAM && el.local === 'error') {
      const err = StreamError.fromElement(el);
      this.ctx.metrics.inc('s2s_peer_stream_errors_total', { condition: err.condition });
      // system-shutdown: the local server is stopping (RFC 6120 §4.9.3.22), a normal event.
      this.log.info({ condition: err.condition, text: err.text }, err.condition === 'system-shutdown' ? 'local server closed the s2s stream: it is stopping' : 'peer sent stream error');
      return this.close(null);
    }
    if (el.ns === NS.TLS && el.local === 'starttls') return this.startTls();
    if (el.ns === NS.SASL && el.local === 'auth') return this.saslAuth(el);
    if (el.ns === NS.DIALBACK && el.local === 'result') return this.dbResult(el);
    if (el.ns === NS.DIALBACK && el.local === 'verify') return this.dbVerify(el);
    if (el.ns === NS.SM) return this.smElement(el);
    if (el.ns === NS.BIDI && el.local === 'bidi') return this.requestBidi();
    this.stanza(el);
  }

  /** RFC 6120 §5.4.2: <proceed/>, then TLS as server, then stream restart. */
  private startTls(): void {
    if (this.tls || this.state !== 'open' || this.ctx.opts.tls.enabled === false) return this.close(new StreamError('policy-violation', 'unexpected starttls'));
    if (!this.to) return this.close(new StreamError('improper-addressing', 'starttls without a stream to'));
    let secureContext;
    try {
      secureContext = this.ctx.opts.tls.certs.forDomain(this.to);
    } catch (err) {
      this.log.error({ err }, 'no certificate');
      this.send(`<failure xmlns='${NS.TLS}'/>`);
      return this.close(new StreamError('internal-server-error'));
    }
    this.send(`<proceed xmlns='${NS.TLS}'/>`);
    this.setState('tls');
    const raw = this.detachForTls();
    const ts = new TLSSocket(raw, {
      isServer: true,
      secureContext,
      SNICallback: this.ctx.opts.tls.certs.sniCallback(this.ctx.isServed),
      requestCert: true,
      rejectUnauthorized: false,
    });
    this.watchHandshake(ts);
    ts.on('error', (err) => {
      this.ctx.metrics.inc('s2s_tls_failures_total', { direction: 'in' });
      this.log.info({ err: err.message }, 'inbound TLS failed');
      this.close(null);
    });
    ts.once('secure', () => {
      // Node computes `authorized` only for tls.Server sockets: same chain check here.
      const verifyError = (ts as unknown as { _handle?: { verifyError?(): Error | null } })._handle?.verifyError?.();
      const peer = ts.getPeerCertificate();
      ts.authorized = !verifyError && !!peer && Buffer.isBuffer(peer.raw) && peer.raw.length > 0;
      if (verifyError) ts.authorizationError = verifyError;
      this.headerSent = false;
      this.attach(ts);
      const v = this.ctx.trust.checkVersion(ts, this.from);
      if (!v.ok) return this.refuse(v.reason, v.text);
      this.setState('wait-header', 'tls up');
    });
  }

  /** XEP-0178 / RFC 6120 §6.4: SASL EXTERNAL with the peer certificate. */
  private saslAuth(el: XmlElement): void {
    const fail = (cond: string): void => {
      this.ctx.metrics.inc('s2s_auth_total', { method: 'sasl-external', result: 'failure', direction: 'in' });
      this.send(`<failure xmlns='${NS.SASL}'><${cond}/></failure>`);
    };
    if (el.attr('mechanism') !== 'EXTERNAL' || this.saslDone || !this.tls) return fail('invalid-mechanism');
    const text = el.text().trim();
    const authzid = text === '' || text === '=' ? this.from : Buffer.from(text, 'base64').toString('utf8').toLowerCase();
    if (!authzid || authzid !== this.from || !this.canExternal()) return fail('not-authorized');
    this.send(`<success xmlns='${NS.SASL}'/>`);
    this.ctx.metrics.inc('s2s_auth_total', { method: 'sasl-external', result: 'success', direction: 'in' });
    this.saslDone = true;
    this.auth = 'sasl-external';
    this.peerCert = 'pkix';
    this.addAuthed(authzid, this.to!);
    this.setState('sasl');
    this.headerSent = false;
    this.newParser(); // RFC 6120 §6.4.6 stream restart
    this.setState('wait-header', 'sasl success');
  }

  private addAuthed(from: string, to: string): void {
    let s = this.authed.get(from);
    if (!s) this.authed.set(from, (s = new Set()));
    s.add(to);
  }

  /** Receiving role, XEP-0220 §2.1.2-2.3 (and §2.4 piggybacking: any served to, any local from). */
  private dbResult(el: XmlElement): void {
    const from = el.attr('from')?.toLowerCase();
    const to = el.attr('to')?.toLowerCase();
    const key = el.text().trim();
    if (el.attr('type')) return; // results are only sent by us on inbound streams
    if (this.ctx.trust.tlsRequired(from) && !this.tls) return this.refuse('tls_required', 'encryption-required');
    if (from && !this.certTrusted(from)) {
      const v = this.ctx.trust.untrustedAllowed(from, this.tls ? 'certificate not verified' : 'no TLS');
      if (!v.ok) return this.refuse(v.reason, v.text);
    }
    if (!from || !to || !key) return this.close(new StreamError('improper-addressing', 'db:result without from/to/key'));
    const reply = (type: 'valid' | 'invalid' | 'error', cond?: string): void => {
      this.send(
        x('db:result', { from: to, to: from, type }, cond ? x('error', { type: 'cancel' }, x(cond, { xmlns: NS.STANZAS_ERR })) : undefined).toBuffer(),
      );
    };
    // XEP-0220 §2.4: unknown target / not accepted source -> typed error, stream stays
    if (!this.ctx.isServed(to)) return reply('error', 'item-not-found');
    if (!this.ctx.isLocal(from)) return reply('error', 'remote-server-not-found');
    if (this.authed.get(from)?.has(to)) return reply('valid');
    if (this.state === 'open' || this.state === 'authed') this.setState(this.state === 'open' ? 'dialback' : 'authed', 'db:result');
    this.pendingResults++;
    this.verifying.add(`${from}\n${to}`);
    const streamId = this.streamId;
    this.ctx
      .verifyKey(to, from, streamId, key)
      .catch(() => false)
      .then((ok) => {
        this.pendingResults--;
        this.verifying.delete(`${from}\n${to}`);
        if (this.closed) return;
        this.ctx.metrics.inc('s2s_dialback_total', { role: 'receiving', result: ok ? 'valid' : 'invalid' });
        if (ok) {
          this.addAuthed(from, to);
          this.auth ??= 'dialback';
          reply('valid');
          if (this.state !== 'authed') this.setState('authed', `dialback ${from}`);
        } else {
          reply('invalid');
          // XEP-0220 §2.3.2: the stream may stay for other pairs; with none, close it
          if (this.authed.size === 0 && this.pendingResults === 0) this.close(new StreamError('not-authorized', 'dialback failed'));
        }
      });
  }

  /** Authoritative role, XEP-0220 §2.1.3: answer for keys we issued, on any stream. */
  private dbVerify(el: XmlElement): void {
    const from = el.attr('from')?.toLowerCase(); // receiving (local) server
    const to = el.attr('to')?.toLowerCase(); // originating: us
    const id = el.attr('id');
    const key = el.text().trim();
    if (el.attr('type')) return;
    if (!from || !to || !id) return this.close(new StreamError('improper-addressing', 'db:verify without from/to/id'));
    if (!this.ctx.isServed(to)) {
      this.send(x('db:verify', { from: to, to: from, id, type: 'error' }, x('error', { type: 'cancel' }, x('item-not-found', { xmlns: NS.STANZAS_ERR }))).toBuffer());
      return;
    }
    const ok = this.ctx.checkOwnKey(from, to, id, key);
    this.ctx.metrics.inc('s2s_dialback_total', { role: 'authoritative', result: ok ? 'valid' : 'invalid' });
    this.send(x('db:verify', { from: to, to: from, id, type: ok ? 'valid' : 'invalid' }).toBuffer());
  }

  /** XEP-0198 §3-4: enable, ack requests (answered only for stanzas onStanza has taken). */
  private smElement(el: XmlElement): void {
    if (el.local === 'enable') {
      if (this.authed.size === 0 || this.sm) {
        this.send(`<failed xmlns='${NS.SM}'><unexpected-request xmlns='${NS.STANZAS_ERR}'/></failed>`);
        return;
      }
      this.sm = new SmReceiver((h) => this.send(`<a xmlns='${NS.SM}' h='${h}'/>`), this.ctx.runtime);
      this.send(`<enabled xmlns='${NS.SM}'/>`); // no resumption on s2s
      this.ctx.metrics.inc('s2s_sm_enabled_total', { direction: 'in' });
      return;
    }
    if (!this.sm) return this.close(new StreamError('unsupported-stanza-type', `${el.local} before <enable/>`));
    if (el.local === 'r') this.sm.requested();
    // <a/>: stanzas we send (bidi) are taken once written, nothing to release
  }

  /** What this stream authenticated: pairs by dialback, or the stream's 'from' by SASL EXTERNAL (any served 'to'). */
  private readonly stanzaAuth: StanzaAuth = {
    authenticated: () => this.authed.size > 0,
    hasFrom: (from) => this.authed.has(from),
    mayReach: (from, to) => this.auth === 'sasl-external' || !!this.authed.get(from)?.has(to),
    isServed: (to) => this.ctx.isServed(to),
  };

  /** RFC 6120 §8, §4.9.3: stanza checks, then hand it over. */
  private stanza(el: XmlElement): void {
    const route = checkStanza(el, this.stanzaAuth);
    if (route instanceof StreamError) return this.close(route);
    this.handIn(el, route, this.sm);
  }

  protected override smReceiver(): SmReceiver | undefined {
    return this.sm;
  }

  protected override onAuthed(): void {
    this.slot?.release();
    this.clearTimer('auth');
    this.restartIdle();
  }
}

/**
 * Per-domain certificates for the relay's S2S listener and connector.
 * The relay stands in for remote domains, so it needs a certificate for each:
 * the operator's configured one where it covers the domain, else a generated
 * self-signed one (ECDSA P-256, kept in data_dir/certs, reused across restarts).
 */
import { X509Certificate, generateKeyPairSync, randomBytes, createPrivateKey } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { silentLogger, type Logger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { buildSelfSignedDer, CertError, derToPem } from './x509.ts';
import { certIdentities, matchDnsName, normalizeDomain } from './verify.ts';

export interface CertPair {
  certPem: string;
  keyPem: string;
}

export interface GenerateOptions {
  /** validity in days from `now` (default 365) */
  days?: number;
  /** 'ec' (default, P-256: ~1/3 the bytes of RSA on the wire) or 'rsa' (2048) */
  keyType?: 'ec' | 'rsa';
  /** issue time (default: current time); notBefore is one hour earlier for clock skew */
  now?: Date;
}

/**
 * Self-signed certificate for `domain`: CN=domain, SAN dNSName=domain and
 * id-on-xmppAddr=domain (RFC 6120 §13.7.1.4). ~1 ms with EC keys.
 */
export function generateSelfSigned(domain: string, opts: GenerateOptions = {}): CertPair {
  const d = normalizeDomain(domain);
  if (!d || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d)) {
    throw new CertError('CERT_BAD_DOMAIN', `cannot issue a certificate for ${JSON.stringify(domain)}`);
  }
  const keyType = opts.keyType ?? 'ec';
  const { publicKey, privateKey } =
    keyType === 'ec'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = opts.now ?? new Date();
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive, minimal DER INTEGER
  const certDer = buildSelfSignedDer({
    domain: d,
    publicKey,
    privateKey,
    notBefore: new Date(now.getTime() - 3600_000),
    notAfter: new Date(now.getTime() + (opts.days ?? 365) * 86400_000),
    serial,
  });
  return { certPem: derToPem(certDer), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** Does `cert` cover `domain` by xmppAddr or dNSName (wildcards one label deep)? */
export function certCovers(cert: X509Certificate, domain: string): boolean {
  const ids = certIdentities(cert);
  if (ids.xmppAddrs.some((a) => normalizeDomain(a) === domain)) return true;
  if (ids.dnsNames.some((n) => matchDnsName(n, domain))) return true;
  return ids.dnsNames.length === 0 && ids.xmppAddrs.length === 0 && ids.cn !== undefined && matchDnsName(ids.cn, domain);
}

interface Entry {
  ctx: tls.SecureContext;
  pair: CertPair;
  notAfter: number;
  source: 'configured' | 'stored' | 'generated';
}

export interface CertStoreOptions {
  /** where generated certificates live (data_dir/certs): <domain>.pem / <domain>.key */
  dir: string;
  /** operator's certificate and key: PEM file paths (relative to process cwd) or PEM text */
  configured?: { cert: string; key: string };
  /** SNI filter: domains this relay answers for; others get the server's default context */
  isServed?: (domain: string) => boolean;
  keyType?: 'ec' | 'rsa';
  /** validity of generated certificates in days (default 365) */
  days?: number;
  /** regenerate when fewer than this many ms of validity remain (default 1 day) */
  renewBeforeMs?: number;
  /**
   * Extra trust anchors (PEM) added to Node's root CAs in every context made
   * here, e.g. the local XMPP servers' self-signed certificates. Used to check
   * the peer's chain (socket.authorized) on both inbound and outbound TLS.
   */
  ca?: string[];
  /** clock (default Date.now) */
  now?: () => number;
  logger?: Logger;
  metrics?: Metrics;
}

const readPem = (v: string): string => (v.includes('-----BEGIN') ? v : readFileSync(resolve(v), 'utf8'));

export class CertStore {
  private readonly cache = new Map<string, Entry>();
  private readonly configured?: { pair: CertPair; x509: X509Certificate; ctx: tls.SecureContext };
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly now: () => number;
  private readonly ca?: string[];

  constructor(private readonly opts: CertStoreOptions) {
    this.log = opts.logger ?? silentLogger;
    this.metrics = opts.metrics ?? new Metrics();
    this.now = opts.now ?? Date.now;
    this.ca = opts.ca?.length ? [...tls.rootCertificates, ...opts.ca] : undefined;
    if (opts.configured) {
      try {
        const pair = { certPem: readPem(opts.configured.cert), keyPem: readPem(opts.configured.key) };
        const x509 = new X509Certificate(pair.certPem);
        if (!x509.checkPrivateKey(createPrivateKey(pair.keyPem))) throw new Error('key does not match certificate');
        this.configured = { pair, x509, ctx: this.context(pair) };
      } catch (err) {
        throw new CertError('CERT_CONFIG', `configured TLS certificate unusable: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /** Secure context for `domain` (throws CertError CERT_BAD_DOMAIN / CERT_IO). */
  forDomain(domain: string): tls.SecureContext {
    return this.entry(domain).ctx;
  }

  /** Certificate and key PEM for `domain` (same choice as forDomain). */
  pairForDomain(domain: string): CertPair {
    return this.entry(domain).pair;
  }

  /** For tls.createServer({ SNICallback }): picks the certificate by the SNI name. */
  sniCallback(filter?: (domain: string) => boolean): (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void {
    const served = filter ?? this.opts.isServed ?? (() => true);
    return (servername, cb) => {
      const d = normalizeDomain(servername);
      if (!d || !served(d)) {
        // Not ours: the server's default context answers; the stream layer then
        // rejects the stream header with host-unknown (RFC 6120 §4.9.3.6).
        this.metrics.inc('tls_sni_unknown_total');
        this.log.debug({ servername }, 'SNI for a domain not served');
        cb(null);
        return;
      }
      try {
        cb(null, this.forDomain(d));
      } catch (err) {
        this.metrics.inc('tls_sni_errors_total');
        cb(err as Error);
      }
    };
  }

  private context(pair: CertPair): tls.SecureContext {
    return tls.createSecureContext({ cert: pair.certPem, key: pair.keyPem, ca: this.ca });
  }

  private entry(domain: string): Entry {
    const d = normalizeDomain(domain);
    if (!d || /[/\\]/.test(d) || d.startsWith('.')) throw new CertError('CERT_BAD_DOMAIN', `bad domain ${JSON.stringify(domain)}`);
    const renew = this.opts.renewBeforeMs ?? 86400_000;
    const hit = this.cache.get(d);
    if (hit && hit.notAfter - renew > this.now()) return hit;
    const e = this.choose(d, renew);
    this.cache.set(d, e);
    return e;
  }

  private choose(d: string, renew: number): Entry {
    const c = this.configured;
    if (c && certCovers(c.x509, d)) {
      const notAfter = Date.parse(c.x509.validTo);
      if (notAfter <= this.now()) this.log.warn({ domain: d, validTo: c.x509.validTo }, 'configured TLS certificate has expired');
      // Configured certs are the operator's to renew: never replaced here.
      return { ctx: c.ctx, pair: c.pair, notAfter: Math.max(notAfter, this.now() + renew + 60_000), source: 'configured' };
    }
    const certPath = join(this.opts.dir, `${d}.pem`);
    const keyPath = join(this.opts.dir, `${d}.key`);
    const stored = this.load(d, certPath, keyPath);
    if (stored && stored.notAfter - renew > this.now()) return stored;
    const pair = generateSelfSigned(d, { keyType: this.opts.keyType, days: this.opts.days, now: new Date(this.now()) });
    try {
      mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
      // Write-then-rename so a crash never leaves a half-written pair.
      writeFileSync(`${keyPath}.tmp`, pair.keyPem, { mode: 0o600 });
      writeFileSync(`${certPath}.tmp`, pair.certPem, { mode: 0o644 });
      renameSync(`${keyPath}.tmp`, keyPath);
      renameSync(`${certPath}.tmp`, certPath);
    } catch (err) {
      this.metrics.inc('tls_cert_errors_total', { code: 'CERT_IO' });
      throw new CertError('CERT_IO', `cannot store certificate for ${d} in ${this.opts.dir}: ${(err as Error).message}`, { cause: err });
    }
    this.metrics.inc('tls_certs_generated_total');
    this.log.info({ domain: d, reason: stored ? 'expired' : 'missing' }, 'generated self-signed certificate');
    const x509 = new X509Certificate(pair.certPem);
    return { ctx: this.context(pair), pair, notAfter: Date.parse(x509.validTo), source: 'generated' };
  }

  private load(d: string, certPath: string, keyPath: string): Entry | undefined {
    if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
    try {
      const pair = { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
      const x509 = new X509Certificate(pair.certPem);
      if (!certCovers(x509, d) || !x509.checkPrivateKey(createPrivateKey(pair.keyPem))) throw new Error('does not match domain or key');
      return { ctx: this.context(pair), pair, notAfter: Date.parse(x509.validTo), source: 'stored' };
    } catch (err) {
      this.metrics.inc('tls_cert_errors_total', { code: 'CERT_PARSE' });
      this.log.warn({ domain: d, err: (err as Error).message }, 'stored certificate unusable, regenerating');
      return undefined;
    }
  }
}

/**
 * Service identity check for XMPP server certificates: RFC 6125 as profiled
 * by RFC 6120 §13.7.2 and RFC 7590. Reference identifier: the peer's domain.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { domainToASCII } from 'node:url';
import { readIdentities, toDer, type RawIdentities } from './x509.ts';

export type CertInput = PeerCertificate | X509Certificate | string | Buffer;

export interface CertIdentities extends RawIdentities {}

/** Identities a certificate presents (throws CertError code CERT_PARSE on bad input). */
export function certIdentities(cert: CertInput): CertIdentities {
  return readIdentities(toDer(cert as Parameters<typeof toDer>[0]));
}

export type IdentityResult =
  | { ok: true; via: 'xmppAddr' | 'dnsName' | 'srvName' | 'cn' }
  | { ok: false; reason: string };

/** Lower-case A-label form without a trailing dot; '' if not a valid domain. */
export function normalizeDomain(d: string): string {
  const trimmed = d.endsWith('.') ? d.slice(0, -1) : d;
  // URL-significant characters would be cut off silently by domainToASCII.
  if (!trimmed || /[*\s/\\?#@:%[\]]/.test(trimmed)) return '';
  return domainToASCII(trimmed).toLowerCase();
}

/** RFC 6125 §6.4.3: '*' only as the whole left-most label, matching exactly one label. */
export function matchDnsName(pattern: string, domain: string): boolean {
  const p = (pattern.endsWith('.') ? pattern.slice(0, -1) : pattern).toLowerCase();
  if (!p.startsWith('*.')) {
    const n = normalizeDomain(p);
    return n !== '' && n === domain;
  }
  const rest = normalizeDomain(p.slice(2));
  // No wildcard over a bare TLD ('*.com') and none anywhere else in the name.
  if (!rest || !rest.includes('.')) return false;
  const dot = domain.indexOf('.');
  if (dot <= 0) return false;
  return domain.slice(dot + 1) === rest;
}

/** RFC 4985 SRVName '_xmpp-server.<domain>' (XEP-0368 '_xmpps-server' accepted too); no wildcards. */
function matchSrvName(srv: string, domain: string): boolean {
  const m = /^_(xmpps?-server)\.(.+)$/i.exec(srv);
  return m !== null && normalizeDomain(m[2]) === domain;
}

/**
 * RFC 6120 §13.7.2.1 / RFC 6125 §6: does `cert` identify XMPP service `domain`?
 * Order: id-on-xmppAddr (exact domainpart, no wildcard), SRV-ID, DNS-ID
 * (one-label wildcard), then CN only when the certificate presents no DNS-ID,
 * SRV-ID or xmppAddr at all (RFC 6125 §6.4.4).
 */
export function verifyPeerIdentity(domain: string, cert: CertInput): IdentityResult {
  const want = normalizeDomain(domain);
  if (!want) return { ok: false, reason: `not a valid domain: ${JSON.stringify(domain)}` };
  let ids: CertIdentities;
  try {
    ids = certIdentities(cert);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (ids.xmppAddrs.some((a) => !a.includes('*') && !a.includes('@') && !a.includes('/') && normalizeDomain(a) === want)) {
    return { ok: true, via: 'xmppAddr' };
  }
  if (ids.srvNames.some((s) => matchSrvName(s, want))) return { ok: true, via: 'srvName' };
  if (ids.dnsNames.some((n) => matchDnsName(n, want))) return { ok: true, via: 'dnsName' };
  const hasSan = ids.dnsNames.length + ids.srvNames.length + ids.xmppAddrs.length > 0;
  if (!hasSan && ids.cn !== undefined && matchDnsName(ids.cn, want)) return { ok: true, via: 'cn' };
  return {
    ok: false,
    reason: hasSan
      ? `certificate names [${[...ids.xmppAddrs, ...ids.srvNames, ...ids.dnsNames].join(', ')}] do not cover ${want}`
      : `certificate CN ${JSON.stringify(ids.cn ?? '')} does not cover ${want}`,
  };
}

/** True when the TLS layer validated the peer chain against the configured CAs. */
export function isTrusted(socket: TLSSocket): boolean {
  return socket.authorized === true;
}

export interface PeerAssessment {
  /** chain validated (socket.authorized) */
  trusted: boolean;
  /** why the chain was not trusted (socket.authorizationError), if it was not */
  chainError?: string;
  identity: IdentityResult;
  /** trusted and identity ok: SASL EXTERNAL may be offered/used (RFC 6120 §13.7.2); else dialback */
  canExternal: boolean;
}

/** Chain + identity verdict for the peer of a connected TLS socket claiming `domain`. */
export function assessPeer(socket: TLSSocket, domain: string): PeerAssessment {
  const trusted = isTrusted(socket);
  const peer = socket.getPeerCertificate();
  const identity: IdentityResult =
    peer && Buffer.isBuffer(peer.raw) && peer.raw.length > 0
      ? verifyPeerIdentity(domain, peer)
      : { ok: false, reason: 'peer presented no certificate' };
  const chainError = trusted ? undefined : String(socket.authorizationError ?? 'not authorized');
  return { trusted, chainError, identity, canExternal: trusted && identity.ok };
}

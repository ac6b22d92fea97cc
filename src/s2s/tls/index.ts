/**
 * s2s/tls — certificates and peer identity for S2S TLS (STARTTLS and XEP-0368 Direct TLS).
 *
 * Does:
 *  - CertStore: a tls.SecureContext per served domain. The operator's configured
 *    certificate when its SANs cover the domain, else a self-signed ECDSA P-256
 *    one (CN + SAN dNSName + id-on-xmppAddr, RFC 6120 §13.7.1.4) generated on
 *    demand, stored as <dir>/<domain>.pem/.key, reused across restarts and
 *    regenerated when expired. sniCallback() selects it per SNI name; use
 *    forDomain(originating) as the client certificate when connecting out.
 *  - verifyPeerIdentity / certIdentities: RFC 6125 service identity for XMPP
 *    (RFC 6120 §13.7.2, RFC 7590): xmppAddr, SRV-ID, DNS-ID (one-label
 *    wildcard), CN only when no SAN identifiers are present.
 *  - isTrusted / assessPeer: chain verdict (socket.authorized) + identity; the
 *    sessions offer/use SASL EXTERNAL only when both hold, else dialback.
 *
 * Usage notes for the sessions:
 *  - listener: tls.createServer / new TLSSocket(sock, { isServer: true, SNICallback:
 *    store.sniCallback(), requestCert: true, rejectUnauthorized: false }) so the
 *    peer's certificate is seen but never fatal (dialback remains possible).
 *  - connector: tls.connect({ socket, servername: remoteDomain, secureContext:
 *    store.forDomain(localDomain), rejectUnauthorized: false }). A secureContext
 *    replaces the `ca` option: extra trust anchors go in CertStoreOptions.ca.
 *  - call assessPeer() right after 'secure'/'secureConnect' while the socket is
 *    open (a closed socket has no peer certificate).
 *
 * Takes: domains, PEM text/paths, a directory, TLS sockets. Gives: SecureContexts,
 * identity verdicts, CertError (codes CERT_PARSE, CERT_BAD_DOMAIN, CERT_IO, CERT_CONFIG).
 * Must not import: the session, link, optimize or relay layers (leaf module:
 * node:crypto, node:tls, node-forge's asn1, obs/ only).
 */
export { generateSelfSigned, CertStore, certCovers, type CertPair, type CertStoreOptions, type GenerateOptions } from './certs.ts';
export {
  certIdentities,
  verifyPeerIdentity,
  isTrusted,
  assessPeer,
  matchDnsName,
  normalizeDomain,
  type CertIdentities,
  type CertInput,
  type IdentityResult,
  type PeerAssessment,
} from './verify.ts';
export { CertError, OID } from './x509.ts';

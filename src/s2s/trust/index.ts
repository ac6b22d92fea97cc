/**
 * s2s/trust — how much the relay trusts each S2S peer (its local servers),
 * per domain pattern: TLS required and its lowest version, a trusted
 * certificate (PKIX: socket.authorized against the root store plus anchors;
 * DANE for outbound sessions, RFC 7671 DANE-EE/DANE-TA with SPKI or full
 * certificate, SHA-256/512, TLSA found per RFC 7673 through a DNSSEC-validating
 * resolver whose AD bit is believed on loopback or when configured), dialback
 * without a trusted certificate, pinned SRV, A and TLSA records.
 * Takes: TrustSettings, TLS sockets, targets. Gives: rules, targets with
 * their TLSA state, verdicts (ok with PKIX/DANE, or a refusal reason and text).
 * Must not import: sessions, link/, relay/, config/ (leaf: tls/, dns/, obs/).
 */
export { TrustPolicy, defaultRule, peerChain, type TrustRule, type TrustSettings, type ConnectTarget, type PeerCert, type Verdict } from './policy.ts';
export { daneVerify, usableRecords, certDigests, type DaneResult } from './dane.ts';

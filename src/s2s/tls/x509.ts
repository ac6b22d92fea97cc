/**
 * Minimal X.509 DER building and reading with node-forge's asn1 (RFC 5280).
 * Building: forge's certificate code only handles RSA keys, so the
 * TBSCertificate is assembled here and signed with node:crypto (EC or RSA).
 * Reading: forge's certificateFromAsn1 rejects non-RSA keys, and node's
 * X509Certificate prints otherName SANs as '<unsupported>', so the SAN and
 * subject are walked here.
 */
import { X509Certificate, type KeyObject, sign as cryptoSign } from 'node:crypto';
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;

export const OID = {
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /** id-on-xmppAddr, RFC 6120 §13.7.1.4 */
  xmppAddr: '1.3.6.1.5.5.7.8.5',
  /** id-on-dnsSRV (SRVName), RFC 4985 */
  srvName: '1.3.6.1.5.5.7.8.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** A certificate could not be built or parsed. */
export class CertError extends Error {
  constructor(readonly code: 'CERT_PARSE' | 'CERT_BAD_DOMAIN' | 'CERT_IO' | 'CERT_CONFIG', message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertError';
  }
}

const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

const seq = (v: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, v);
const set = (v: Asn1[]): Asn1 => asn1.create(U, T.SET, true, v);
const oid = (o: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const utf8 = (s: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s));
const octets = (bytes: string): Asn1 => asn1.create(U, T.OCTETSTRING, false, bytes);
const der = (a: Asn1): string => asn1.toDer(a).getBytes();
const bin = (b: Buffer): string => b.toString('binary');

function time(d: Date): Asn1 {
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return d.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d));
}

function ext(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(asn1.create(U, T.BOOLEAN, false, '\xff'));
  parts.push(octets(der(value)));
  return seq(parts);
}

export interface BuildOptions {
  domain: string;
  publicKey: KeyObject;
  privateKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  serial: Buffer;
  /** identities to present instead of the defaults (CN, dNSName and xmppAddr = domain); for tests and special setups */
  names?: { cn?: string; dnsNames?: string[]; xmppAddrs?: string[]; srvNames?: string[] };
}

/** Self-signed end-entity certificate for an XMPP domain; returns DER. */
export function buildSelfSignedDer(o: BuildOptions): Buffer {
  const isEc = o.privateKey.asymmetricKeyType === 'ec';
  const sigAlg = isEc ? seq([oid(OID.ecdsaWithSha256)]) : seq([oid(OID.sha256WithRsa), asn1.create(U, T.NULL, false, '')]);
  const n = o.names ?? { cn: o.domain, dnsNames: [o.domain], xmppAddrs: [o.domain] };
  const name = seq(n.cn === undefined ? [] : [set([seq([oid(OID.commonName), utf8(n.cn)])])]);
  const spki = asn1.fromDer(bin(o.publicKey.export({ type: 'spki', format: 'der' })));
  // SAN: dNSName (RFC 5280) and id-on-xmppAddr otherName, UTF8String (RFC 6120 §13.7.1.4).
  const otherName = (id: string, v: Asn1): Asn1 => asn1.create(CTX, 0, true, [oid(id), asn1.create(CTX, 0, true, [v])]);
  const sanItems = [
    ...(n.dnsNames ?? []).map((d) => asn1.create(CTX, 2, false, d)),
    ...(n.xmppAddrs ?? []).map((a) => otherName(OID.xmppAddr, utf8(a))),
    ...(n.srvNames ?? []).map((s) => otherName(OID.srvName, asn1.create(U, T.IA5STRING, false, s))),
  ];
  // keyUsage: digitalSignature (+ keyEncipherment for RSA key transport).
  const ku = asn1.create(U, T.BITSTRING, false, isEc ? '\x07\x80' : '\x05\xa0');
  const tbs = seq([
    asn1.create(CTX, 0, true, [asn1.create(U, T.INTEGER, false, '\x02')]),
    asn1.create(U, T.INTEGER, false, bin(o.serial)),
    sigAlg,
    name,
    seq([time(o.notBefore), time(o.notAfter)]),
    name,
    spki,
    asn1.create(CTX, 3, true, [
      seq([
        ext(OID.basicConstraints, true, seq([])),
        ext(OID.keyUsage, true, ku),
        ext(OID.extKeyUsage, false, seq([oid(OID.serverAuth), oid(OID.clientAuth)])),
        ...(sanItems.length ? [ext(OID.subjectAltName, n.cn === undefined, seq(sanItems))] : []),
      ]),
    ]),
  ]);
  const tbsDer = Buffer.from(der(tbs), 'binary');
  const sig = cryptoSign('sha256', tbsDer, o.privateKey);
  const cert = seq([tbs, sigAlg, asn1.create(U, T.BITSTRING, false, '\x00' + bin(sig))]);
  return Buffer.from(der(cert), 'binary');
}

export function derToPem(d: Buffer): string {
  const b64 = d.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

export interface RawIdentities {
  xmppAddrs: string[];
  dnsNames: string[];
  srvNames: string[];
  cn?: string;
}

function decodeString(a: Asn1): string {
  const v = a.value as string;
  if (a.type === T.UTF8) return forge.util.decodeUtf8(v);
  if (a.type === T.BMPSTRING) {
    let s = '';
    for (let i = 0; i + 1 < v.length; i += 2) s += String.fromCharCode((v.charCodeAt(i) << 8) | v.charCodeAt(i + 1));
    return s;
  }
  return v; // PrintableString, IA5String, T61String: single-byte
}

function children(a: Asn1 | undefined, what: string): Asn1[] {
  if (!a || !Array.isArray(a.value)) throw new CertError('CERT_PARSE', `malformed certificate: ${what}`);
  return a.value as Asn1[];
}

/** Reads SAN identities and the subject CN from a DER certificate. */
export function readIdentities(certDer: Buffer): RawIdentities {
  let root: Asn1;
  try {
    root = (asn1.fromDer as unknown as (b: string, o: object) => Asn1)(bin(certDer), { strict: true, decodeBitStrings: false });
  } catch (err) {
    throw new CertError('CERT_PARSE', `certificate is not valid DER: ${(err as Error).message}`, { cause: err });
  }
  const tbs = children(root, 'Certificate')[0];
  const fields = children(tbs, 'TBSCertificate');
  let i = fields[0]?.tagClass === CTX && fields[0].type === 0 ? 1 : 0; // optional version
  i += 4; // serial, signature, issuer, validity
  const subject = fields[i];
  const out: RawIdentities = { xmppAddrs: [], dnsNames: [], srvNames: [] };
  for (const rdn of children(subject, 'subject')) {
    for (const atv of children(rdn, 'RDN')) {
      const [t, v] = children(atv, 'AttributeTypeAndValue');
      if (t && v && asn1.derToOid(t.value as string) === OID.commonName) out.cn = decodeString(v);
    }
  }
  const extWrap = fields.find((f) => f.tagClass === CTX && f.type === 3);
  if (!extWrap) return out;
  for (const e of children(children(extWrap, 'extensions')[0], 'Extensions')) {
    const parts = children(e, 'Extension');
    if (asn1.derToOid(parts[0].value as string) !== OID.subjectAltName) continue;
    const value = parts[parts.length - 1];
    let names: Asn1;
    try {
      names = asn1.fromDer(value.value as string, true);
    } catch (err) {
      throw new CertError('CERT_PARSE', 'subjectAltName is not valid DER', { cause: err });
    }
    for (const gn of children(names, 'GeneralNames')) {
      if (gn.tagClass !== CTX) continue;
      if (gn.type === 2 && !gn.constructed) out.dnsNames.push(gn.value as string);
      else if (gn.type === 0) {
        // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
        const [id, wrapped] = children(gn, 'otherName');
        const inner = wrapped && Array.isArray(wrapped.value) ? (wrapped.value as Asn1[])[0] : undefined;
        if (!id || !inner || Array.isArray(inner.value)) continue;
        const o = asn1.derToOid(id.value as string);
        if (o === OID.xmppAddr) out.xmppAddrs.push(decodeString(inner));
        else if (o === OID.srvName) out.srvNames.push(decodeString(inner));
      }
    }
  }
  return out;
}

/** DER bytes of a certificate given as PEM text, DER, or an X509Certificate/PeerCertificate. */
export function toDer(cert: string | Buffer | X509Certificate | { raw: Buffer }): Buffer {
  if (typeof cert === 'string') {
    try {
      return new X509Certificate(cert).raw;
    } catch (err) {
      throw new CertError('CERT_PARSE', 'not a PEM certificate', { cause: err });
    }
  }
  if (Buffer.isBuffer(cert)) return cert;
  if (cert && Buffer.isBuffer(cert.raw)) return cert.raw;
  throw new CertError('CERT_PARSE', 'no certificate bytes (empty peer certificate?)');
}

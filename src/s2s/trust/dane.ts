/**
 * DANE certificate checks (RFC 6698 §2.1, RFC 7671): the peer's chain
 * against usable TLSA records.
 *  - DANE-EE (3): the leaf certificate (selector 0) or its key (selector 1)
 *    matches; no name or validity checks (RFC 7671 §5.1).
 *  - DANE-TA (2): a certificate of the chain above the leaf matches; the
 *    chain from the leaf up to it verifies (signatures, issuer names,
 *    validity) and the leaf names the service (RFC 7671 §5.2, RFC 7673 §4).
 *  - Matching 0 (exact), 1 SHA-256, 2 SHA-512; per usage and selector only the
 *    strongest matching type present counts (RFC 7671 §9).
 * PKIX-TA (0) and PKIX-EE (1) records are not usable here.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '../dns/wire.ts';
import { tlsaText } from '../dns/wire.ts';
import { verifyPeerIdentity } from '../tls/index.ts';

export type DaneResult =
  | { ok: true; record: string; usage: 'DANE-EE' | 'DANE-TA' }
  | { ok: false; reason: string; usable: number };

/** SHA-256 of the certificate and of its key, for logs. */
export function certDigests(der: Buffer): { cert_sha256: string; spki_sha256: string } {
  const c = new X509Certificate(der);
  const spki = c.publicKey.export({ type: 'spki', format: 'der' });
  return { cert_sha256: createHash('sha256').update(der).digest('hex'), spki_sha256: createHash('sha256').update(spki).digest('hex') };
}

function selected(c: X509Certificate, selector: number): Buffer {
  return selector === 0 ? c.raw : (c.publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
}

function matches(r: TlsaRecord, c: X509Certificate): boolean {
  const sel = selected(c, r.selector);
  const got = r.matchingType === 0 ? sel : createHash(r.matchingType === 1 ? 'sha256' : 'sha512').update(sel).digest();
  return got.length === r.data.length && got.equals(r.data);
}

/** Usable records, weaker matching types dropped where a stronger one exists for the same usage and selector. */
export function usableRecords(records: TlsaRecord[]): TlsaRecord[] {
  const ok = records.filter((r) => (r.usage === 2 || r.usage === 3) && (r.selector === 0 || r.selector === 1) && r.matchingType >= 0 && r.matchingType <= 2);
  const strongest = new Map<string, number>();
  for (const r of ok) {
    const k = `${r.usage}/${r.selector}`;
    // RFC 7671 §9: SHA-512 (2) over SHA-256 (1); exact (0) is kept beside them
    if (r.matchingType > 0) strongest.set(k, Math.max(strongest.get(k) ?? 0, r.matchingType));
  }
  return ok.filter((r) => r.matchingType === 0 || r.matchingType === strongest.get(`${r.usage}/${r.selector}`));
}

/** The chain leaf..ta verifies link by link and every certificate below the TA is valid `now`. */
function chainUpTo(chain: X509Certificate[], ta: number, now: Date): string | undefined {
  for (let i = 0; i < ta; i++) {
    const c = chain[i];
    const issuer = chain[i + 1];
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey)) return `certificate ${i} is not signed by certificate ${i + 1}`;
    if (new Date(c.validFrom) > now || new Date(c.validTo) < now) return `certificate ${i} is not valid now (${c.validFrom} - ${c.validTo})`;
  }
  return undefined;
}

/**
 * Checks the peer chain (leaf first, DER) against TLSA records for service
 * `domain` (and, for DANE-TA, also the SRV target name `targetName`).
 */
export function daneVerify(chainDer: Buffer[], records: TlsaRecord[], names: { domain: string; targetName?: string }, now = new Date()): DaneResult {
  const usable = usableRecords(records);
  if (usable.length === 0) return { ok: false, reason: 'no usable TLSA record (only DANE-TA and DANE-EE are used)', usable: 0 };
  if (chainDer.length === 0) return { ok: false, reason: 'the peer presented no certificate', usable: usable.length };
  let chain: X509Certificate[];
  try {
    chain = chainDer.map((d) => new X509Certificate(d));
  } catch (err) {
    return { ok: false, reason: `unreadable peer certificate: ${(err as Error).message}`, usable: usable.length };
  }
  const why: string[] = [];
  for (const r of usable.filter((x) => x.usage === 3)) {
    if (matches(r, chain[0])) return { ok: true, record: tlsaText(r), usage: 'DANE-EE' };
  }
  for (const r of usable.filter((x) => x.usage === 2)) {
    for (let i = 1; i < chain.length; i++) {
      if (!matches(r, chain[i])) continue;
      const broken = chainUpTo(chain, i, now);
      if (broken) {
        why.push(`${tlsaText(r)} matches certificate ${i} but ${broken}`);
        continue;
      }
      const id = [names.domain, names.targetName].filter((n): n is string => !!n).map((n) => verifyPeerIdentity(n, chainDer[0]));
      if (!id.some((v) => v.ok)) {
        why.push(`${tlsaText(r)} matches certificate ${i} but the leaf does not name ${names.domain}`);
        continue;
      }
      return { ok: true, record: tlsaText(r), usage: 'DANE-TA' };
    }
  }
  return { ok: false, reason: why.length ? why.join('; ') : 'no TLSA record matches the peer certificate chain', usable: usable.length };
}

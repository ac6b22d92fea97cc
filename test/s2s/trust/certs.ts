/** openssl-made certificates for the trust tests: a CA and a leaf it signs for a domain, and a self-signed leaf. */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Issued {
  caPem: string;
  leafPem: string;
  /** PEM files: leaf + CA (what a server sends), and the leaf's key */
  chainFile: string;
  keyFile: string;
  ca: Buffer;
  leaf: Buffer;
}

const ssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
const der = (pem: string): Buffer => new X509Certificate(pem).raw;

/** A CA ("Test CA <tag>") and a leaf for `domain` signed by it, in `dir`. */
export function issue(dir: string, domain: string, tag = 'A'): Issued {
  const f = (n: string): string => join(dir, `${tag}-${n}`);
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30', '-subj', `/CN=Test CA ${tag}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${domain}`, '-keyout', f('leaf.key'), '-out', f('leaf.csr')]);
  writeFileSync(f('ext'), `subjectAltName=DNS:${domain}\nbasicConstraints=CA:FALSE\n`);
  ssl(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '30', '-extfile', f('ext'), '-out', f('leaf.pem')]);
  const caPem = readFileSync(f('ca.pem'), 'utf8');
  const leafPem = readFileSync(f('leaf.pem'), 'utf8');
  writeFileSync(f('chain.pem'), leafPem + caPem);
  return { caPem, leafPem, chainFile: f('chain.pem'), keyFile: f('leaf.key'), ca: der(caPem), leaf: der(leafPem) };
}

/** TLSA "usage selector matching hex" for a certificate (DER). */
export function tlsaFor(certDer: Buffer, usage: number, selector: number, matching: number): string {
  const c = new X509Certificate(certDer);
  const sel = selector === 0 ? c.raw : (c.publicKey.export({ type: 'spki', format: 'der' }) as Buffer);
  const data = matching === 0 ? sel : createHash(matching === 1 ? 'sha256' : 'sha512').update(sel).digest();
  return `${usage} ${selector} ${matching} ${data.toString('hex')}`;
}

/** The DER of a PEM certificate file. */
export const derOf = (file: string): Buffer => der(readFileSync(file, 'utf8'));

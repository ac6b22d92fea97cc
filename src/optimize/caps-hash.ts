/**
 * XEP-0115 §5.1 verification string and §5.4 checks for an entity-caps `ver`.
 *
 * S = for each identity sorted by (category, type, xml:lang, name):
 *       category '/' type '/' lang '/' name '<'
 *   + for each feature sorted: var '<'
 *   + for each XEP-0128 form sorted by FORM_TYPE: FORM_TYPE '<', then for each
 *       other field sorted by var: var '<', then its values sorted, each '<'
 * ver = base64(hash(UTF-8 S)). Sorting is "i;octet" (RFC 4790): byte order of UTF-8.
 */
import { createHash } from 'node:crypto';
import type { XmlElement } from '../xml/element.ts';
import { NS } from '../xmpp/ns.ts';

const DATA_NS = 'jabber:x:data';

/** IANA Hash Function Textual Names (XEP-0115 §5.1) -> node:crypto names. */
export const CAPS_HASHES: Readonly<Record<string, string>> = {
  'sha-1': 'sha1', 'sha-224': 'sha224', 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512',
};

export class CapsFormatError extends Error {
  readonly code = 'SATRELAY_CAPS_ILL_FORMED';
  constructor(message: string) {
    super(message);
    this.name = 'CapsFormatError';
  }
}

const octet = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

function compareTuple(a: string[], b: string[]): number {
  for (let i = 0; i < a.length; i++) {
    const c = octet(a[i], b[i]);
    if (c !== 0) return c;
  }
  return 0;
}

function fieldValues(f: XmlElement): string[] {
  return f.getChildren('value', DATA_NS).map((v) => v.text());
}

/**
 * The verification string S of a disco#info <query/>. Throws CapsFormatError
 * when the response is ill-formed per §5.4 (duplicate identity, feature or
 * FORM_TYPE; FORM_TYPE with differing values).
 */
export function capsVerificationString(query: XmlElement): string {
  const ids = query.getChildren('identity', NS.DISCO_INFO).map((i) => [i.attr('category') ?? '', i.attr('type') ?? '', i.attr('xml:lang') ?? '', i.attr('name') ?? '']);
  ids.sort(compareTuple);
  for (let i = 1; i < ids.length; i++) if (compareTuple(ids[i - 1], ids[i]) === 0) throw new CapsFormatError('duplicate identity');
  const features = query.getChildren('feature', NS.DISCO_INFO).map((f) => f.attr('var') ?? '');
  features.sort(octet);
  for (let i = 1; i < features.length; i++) if (features[i - 1] === features[i]) throw new CapsFormatError(`duplicate feature ${features[i]}`);
  const forms: { type: string; s: string }[] = [];
  for (const form of query.getChildren('x', DATA_NS)) {
    const fields = form.getChildren('field', DATA_NS);
    const ft = fields.filter((f) => f.attr('var') === 'FORM_TYPE');
    if (ft.length === 0) continue; // §5.4 3.6: a form without FORM_TYPE is ignored
    if (ft.length > 1) throw new CapsFormatError('more than one FORM_TYPE field');
    if (ft[0].attr('type') !== 'hidden') continue; // §5.4 3.6: not hidden -> ignore the form
    const tv = fieldValues(ft[0]);
    if (tv.length === 0 || tv.some((v) => v !== tv[0])) throw new CapsFormatError('FORM_TYPE with differing or no values');
    const rest = fields.filter((f) => f.attr('var') !== 'FORM_TYPE').map((f) => ({ v: f.attr('var') ?? '', vals: fieldValues(f).sort(octet) }));
    rest.sort((a, b) => octet(a.v, b.v));
    let s = tv[0] + '<';
    for (const f of rest) s += f.v + '<' + f.vals.map((v) => v + '<').join('');
    forms.push({ type: tv[0], s });
  }
  forms.sort((a, b) => octet(a.type, b.type));
  for (let i = 1; i < forms.length; i++) if (forms[i - 1].type === forms[i].type) throw new CapsFormatError(`duplicate FORM_TYPE ${forms[i].type}`);
  return ids.map((t) => t.join('/') + '<').join('') + features.map((f) => f + '<').join('') + forms.map((f) => f.s).join('');
}

/** ver for a disco#info <query/> under an IANA hash name; undefined for an unknown hash. */
export function computeCapsVer(query: XmlElement, hash = 'sha-1'): string | undefined {
  const algo = CAPS_HASHES[hash];
  if (!algo) return undefined;
  return createHash(algo).update(capsVerificationString(query), 'utf8').digest('base64');
}

/**
 * The hash name under which `ver` matches the query, trying `hashes` in order;
 * undefined when none matches or the query is ill-formed.
 */
export function verifyCapsVer(query: XmlElement, ver: string, hashes: readonly string[] = ['sha-1', 'sha-256']): string | undefined {
  let s: string;
  try {
    s = capsVerificationString(query);
  } catch {
    return undefined;
  }
  for (const h of hashes) {
    const algo = CAPS_HASHES[h];
    if (algo && createHash(algo).update(s, 'utf8').digest('base64') === ver) return h;
  }
  return undefined;
}

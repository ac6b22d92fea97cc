/**
 * ESS security labels (RFC 2634 §5.4), DER, read and written with node-forge's asn1:
 *
 *   ESSSecurityLabel ::= SET {
 *     security-policy-identifier SecurityPolicyIdentifier,      -- OBJECT IDENTIFIER
 *     security-classification    SecurityClassification OPTIONAL, -- INTEGER (0..256)
 *     privacy-mark               ESSPrivacyMark OPTIONAL,        -- PrintableString | UTF8String
 *     security-categories        SecurityCategories OPTIONAL }   -- SET OF SecurityCategory
 *   SecurityCategory ::= SEQUENCE { type [0] OBJECT IDENTIFIER, value [1] ANY DEFINED BY type }
 *
 * The module has IMPLICIT TAGS: `type` is 0x80 + OID content, `value` 0xA1
 * around one element (ANY is always tagged explicitly). A SET has no order,
 * so members are told apart by tag; DER (X.690 §11.6) writes them sorted by tag.
 * The policy identifier is optional here, as in X.841 (XEP-0258 shows one without).
 */
import forge from 'node-forge';

const { asn1 } = forge;
type Asn1 = forge.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

/** RFC 2634 ub-integer-options. */
export const MAX_CLASSIFICATION = 256;
/** A base64 label longer than this is refused before decoding. */
export const MAX_ESS_BYTES = 4096;

export interface SecurityCategory {
  /** category type OID */
  type: string;
  /** the value as text: a string's characters, "int:" + an integer's digits, else "hex:" + the DER of the value */
  value: string;
  /** DER of the value element (kept so a rewritten label carries it unchanged) */
  der: Buffer;
}

export interface EssLabel {
  policy?: string;
  classification?: number;
  privacyMark?: string;
  categories: SecurityCategory[];
}

/** A label that cannot be read: ESS_BAD_LABEL (not valid DER for ESSSecurityLabel), LABEL_UNPARSEABLE (XEP-0258 syntax). */
export class LabelError extends Error {
  constructor(readonly code: 'ESS_BAD_LABEL' | 'LABEL_UNPARSEABLE', message: string) {
    super(message);
    this.name = 'LabelError';
  }
}

const bad = (message: string): LabelError => new LabelError('ESS_BAD_LABEL', message);

const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;
export const isOid = (s: string): boolean => OID_RE.test(s) && s.length <= 200;

const bin = (b: Buffer): string => b.toString('binary');
/** Strict DER, every byte used, BIT STRINGs left alone (the typings only know the boolean form). */
const fromDer = (bytes: string): Asn1 =>
  (asn1.fromDer as unknown as (b: string, o: object) => Asn1)(bytes, { strict: true, parseAllBytes: true, decodeBitStrings: false });
const fromBin = (s: string): Buffer => Buffer.from(s, 'binary');

function readInteger(el: Asn1, what: string): number {
  const bytes = el.value as string;
  if (bytes.length === 0 || bytes.length > 4) throw bad(`${what}: integer of ${bytes.length} bytes`);
  // X.690 §8.3.2: no redundant leading byte
  if (bytes.length > 1 && ((bytes.charCodeAt(0) === 0 && bytes.charCodeAt(1) < 0x80) || (bytes.charCodeAt(0) === 0xff && bytes.charCodeAt(1) >= 0x80))) {
    throw bad(`${what}: integer not in DER form`);
  }
  return asn1.derToInteger(bytes);
}

function readOid(bytes: string, what: string): string {
  if (bytes.length === 0) throw bad(`${what}: empty OID`);
  const oid = asn1.derToOid(bytes);
  if (!isOid(oid)) throw bad(`${what}: bad OID ${oid}`);
  return oid;
}

function categoryText(el: Asn1, der: Buffer): string {
  if (el.tagClass === U && !el.constructed) {
    const v = el.value as string;
    if (el.type === T.UTF8) return forge.util.decodeUtf8(v);
    if (el.type === T.PRINTABLESTRING || el.type === T.IA5STRING) return v;
    if (el.type === T.INTEGER && v.length > 0 && v.length <= 4) return `int:${asn1.derToInteger(v)}`;
  }
  return `hex:${der.toString('hex')}`;
}

function readCategory(el: Asn1): SecurityCategory {
  const parts = el.value as Asn1[];
  if (el.tagClass !== U || el.type !== T.SEQUENCE || !el.constructed || parts.length !== 2) throw bad('security category: expected SEQUENCE { [0] type, [1] value }');
  const [type, value] = parts;
  if (type.tagClass !== CTX || type.type !== 0 || type.constructed) throw bad('security category: expected [0] IMPLICIT OBJECT IDENTIFIER');
  const inner = value.value as Asn1[];
  if (value.tagClass !== CTX || value.type !== 1 || !value.constructed || inner.length !== 1) throw bad('security category: expected [1] around one value');
  const der = fromBin(asn1.toDer(inner[0]).getBytes());
  return { type: readOid(type.value as string, 'security category type'), value: categoryText(inner[0], der), der };
}

/** Decodes DER bytes (throws LabelError ESS_BAD_LABEL). */
export function decodeEss(der: Buffer): EssLabel {
  if (der.length === 0 || der.length > MAX_ESS_BYTES) throw bad(`ESS label of ${der.length} bytes`);
  let root: Asn1;
  try {
    root = fromDer(bin(der));
  } catch (err) {
    throw bad(`not DER: ${(err as Error).message}`);
  }
  if (root.tagClass !== U || root.type !== T.SET || !root.constructed) throw bad('expected a SET (ESSSecurityLabel)');
  const out: EssLabel = { categories: [] };
  const seen = new Set<number>();
  for (const el of root.value as Asn1[]) {
    if (el.tagClass !== U) throw bad(`unexpected tag class ${el.tagClass} in ESSSecurityLabel`);
    const kind = el.type === T.PRINTABLESTRING || el.type === T.UTF8 ? -1 : el.type;
    if (seen.has(kind)) throw bad(`ESSSecurityLabel member of type ${el.type} twice`);
    seen.add(kind);
    if (el.type === T.OID && !el.constructed) out.policy = readOid(el.value as string, 'security policy identifier');
    else if (el.type === T.INTEGER && !el.constructed) {
      const c = readInteger(el, 'security classification');
      if (c < 0 || c > MAX_CLASSIFICATION) throw bad(`security classification ${c} outside 0..${MAX_CLASSIFICATION}`);
      out.classification = c;
    } else if ((el.type === T.PRINTABLESTRING || el.type === T.UTF8) && !el.constructed) {
      const v = el.value as string;
      const text = el.type === T.UTF8 ? forge.util.decodeUtf8(v) : v;
      if (text.length === 0) throw bad('empty privacy mark');
      out.privacyMark = text;
    } else if (el.type === T.SET && el.constructed) {
      const cats = el.value as Asn1[];
      if (cats.length === 0) throw bad('empty security categories');
      out.categories = cats.map(readCategory);
    } else throw bad(`unexpected member of type ${el.type} in ESSSecurityLabel`);
  }
  return out;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;

/** Encodes a label as DER, members sorted by tag (X.690 §11.6). */
export function encodeEss(l: EssLabel): Buffer {
  const members: Array<{ tag: number; el: Asn1 }> = [];
  if (l.policy !== undefined) members.push({ tag: T.OID, el: asn1.create(U, T.OID, false, asn1.oidToDer(l.policy).getBytes()) });
  if (l.classification !== undefined) members.push({ tag: T.INTEGER, el: asn1.create(U, T.INTEGER, false, asn1.integerToDer(l.classification).getBytes()) });
  if (l.privacyMark !== undefined) {
    const p = PRINTABLE.test(l.privacyMark);
    const type = p ? T.PRINTABLESTRING : T.UTF8;
    members.push({ tag: type, el: asn1.create(U, type, false, p ? l.privacyMark : forge.util.encodeUtf8(l.privacyMark)) });
  }
  if (l.categories.length) {
    // DER SET OF: elements sorted by their encodings
    const cats = l.categories
      .map((c) =>
        asn1.create(U, T.SEQUENCE, true, [
          asn1.create(CTX, 0, false, asn1.oidToDer(c.type).getBytes()),
          asn1.create(CTX, 1, true, [fromDer(bin(c.der))]),
        ]),
      )
      .map((el) => asn1.toDer(el).getBytes())
      .sort()
      .map(fromDer);
    members.push({ tag: T.SET, el: asn1.create(U, T.SET, true, cats) });
  }
  members.sort((a, b) => a.tag - b.tag);
  return fromBin(asn1.toDer(asn1.create(U, T.SET, true, members.map((m) => m.el))).getBytes());
}

/** DER of a category value given as text (the inverse of SecurityCategory.value): "int:N", "hex:DER", else a UTF8String. */
export function categoryValueDer(value: string): Buffer {
  if (value.startsWith('hex:')) return Buffer.from(value.slice(4), 'hex');
  const el = /^int:\d{1,9}$/.test(value)
    ? asn1.create(U, T.INTEGER, false, asn1.integerToDer(Number(value.slice(4))).getBytes())
    : asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(value));
  return fromBin(asn1.toDer(el).getBytes());
}

/**
 * XEP-0258 §3 <securitylabel/>: one <label/> (a single label element, or
 * empty for the policy's default), zero or more <equivalentlabel/>, an
 * optional <displaymarking fgcolor bgcolor>. Label forms read here:
 *  - ESS (RFC 2634), base64 DER in <esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>;
 *  - the XML form XEP-0258 §1 shows (IC-ISM style): an element whose
 *    `classification` attribute is U, R, C, S or TS; its namespace stands for
 *    the policy, its other attributes are categories (`name=token`).
 * Anything else inside <label/> is unparseable (refused, never "unlabeled").
 */
import { x, type XmlElement } from '../../xml/element.ts';
import { decodeEss, encodeEss, LabelError, MAX_ESS_BYTES, type EssLabel } from './ess.ts';

export const NS_SECLABEL = 'urn:xmpp:sec-label:0';
export const NS_ESS = 'urn:xmpp:sec-label:ess:0';
export const NS_CATALOG = 'urn:xmpp:sec-label:catalog:2';

/** IC-ISM classification letters on the RFC 2634 scale. */
const XML_CLASSIFICATION: Record<string, number> = { U: 1, R: 2, C: 3, S: 4, TS: 5 };

/** One label in a common form, whatever its encoding. */
export interface Label {
  form: 'ess' | 'xml';
  /** policy OID (ESS) or the XML label's namespace; undefined: an ESS label without one */
  policy?: string;
  /** absent classification counts as 0 (unmarked) */
  classification?: number;
  privacyMark?: string;
  /** canonical "type=value" strings (ESS: OID=value; XML: attribute=token) */
  categories: string[];
  /** ESS only: the decoded label, for rewriting */
  ess?: EssLabel;
}

export interface DisplayMarking {
  text: string;
  fg?: string;
  bg?: string;
}

export interface SecurityLabel {
  marking?: DisplayMarking;
  /** null: an empty <label/>, the policy's default label */
  label: Label | null;
  equivalents: Label[];
}

/** A <securitylabel/> that does not follow XEP-0258 §3. */
const unparseable = (message: string): LabelError => new LabelError('LABEL_UNPARSEABLE', message);

const RFC2634_NAMES = ['UNMARKED', 'UNCLASSIFIED', 'RESTRICTED', 'CONFIDENTIAL', 'SECRET', 'TOP SECRET'];

/** RFC 2634 §5.4 SecurityClassification names, upper case; beyond 5 the number. */
export function classificationName(c: number | undefined): string {
  return RFC2634_NAMES[c ?? 0] ?? `CLASSIFICATION ${c}`;
}

export function essToLabel(ess: EssLabel): Label {
  return {
    form: 'ess',
    policy: ess.policy,
    classification: ess.classification,
    privacyMark: ess.privacyMark,
    categories: ess.categories.map((c) => `${c.type}=${c.value}`),
    ess,
  };
}

function parseOne(el: XmlElement, where: string): Label {
  if (el.ns === NS_ESS && el.local === 'esssecuritylabel') {
    if (el.elements().length > 0) throw unparseable(`${where}: esssecuritylabel holds elements, expected base64`);
    const text = el.text().replace(/\s+/g, '');
    if (text.length === 0) throw unparseable(`${where}: empty esssecuritylabel`);
    if (text.length > Math.ceil(MAX_ESS_BYTES / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
      throw unparseable(`${where}: esssecuritylabel is not base64`);
    }
    try {
      return essToLabel(decodeEss(Buffer.from(text, 'base64')));
    } catch (err) {
      if (err instanceof LabelError) throw unparseable(`${where}: ${err.message}`);
      throw err;
    }
  }
  const cls = el.attr('classification');
  if (el.ns && cls !== undefined) {
    const c = XML_CLASSIFICATION[cls];
    if (c === undefined) throw unparseable(`${where}: classification ${JSON.stringify(cls)} is not one of U, R, C, S, TS`);
    const categories: string[] = [];
    for (const [k, v] of Object.entries(el.attrs)) {
      if (k === 'xmlns' || k.startsWith('xmlns:') || k === 'classification') continue;
      for (const tok of v.split(/\s+/).filter(Boolean)) categories.push(`${k}=${tok}`);
    }
    return { form: 'xml', policy: el.ns, classification: c, categories };
  }
  throw unparseable(`${where}: unknown label form <${el.local} xmlns='${el.ns}'>`);
}

function single(container: XmlElement, where: string, allowEmpty: boolean): Label | null {
  const kids = container.elements();
  if (container.text().trim() !== '') throw unparseable(`${where}: text outside a label element`);
  if (kids.length === 0) {
    if (allowEmpty) return null;
    throw unparseable(`${where}: empty`);
  }
  if (kids.length > 1) throw unparseable(`${where}: ${kids.length} label elements, expected one`);
  return parseOne(kids[0], where);
}

/** Reads a <securitylabel/> element (throws LabelError LABEL_UNPARSEABLE). */
export function parseSecurityLabel(el: XmlElement): SecurityLabel {
  let marking: DisplayMarking | undefined;
  let label: Label | null | undefined;
  const equivalents: Label[] = [];
  if (el.text().trim() !== '') throw unparseable('securitylabel: text outside its elements');
  for (const c of el.elements()) {
    if (c.ns !== NS_SECLABEL) throw unparseable(`securitylabel: unexpected <${c.local} xmlns='${c.ns}'>`);
    if (c.local === 'displaymarking') {
      if (marking) throw unparseable('securitylabel: two displaymarking elements');
      marking = { text: c.text().trim(), fg: c.attr('fgcolor'), bg: c.attr('bgcolor') };
    } else if (c.local === 'label') {
      if (label !== undefined) throw unparseable('securitylabel: two label elements (XEP-0258 §3: one and only one)');
      label = single(c, 'label', true);
    } else if (c.local === 'equivalentlabel') {
      equivalents.push(single(c, 'equivalentlabel', false)!);
    } else throw unparseable(`securitylabel: unexpected <${c.local}>`);
  }
  if (label === undefined) throw unparseable('securitylabel without label (XEP-0258 §3: one and only one)');
  return { marking, label, equivalents };
}

/** Short text for logs: "1.3.6.1.4.1.99999.1/2 RESTRICTED [cat, ...]". */
export function describeLabel(l: Label | null | undefined, marking?: DisplayMarking): string {
  if (!l) return marking?.text ? `default label (${marking.text})` : 'default label';
  const cats = l.categories.length ? ` [${l.categories.join(', ')}]` : '';
  return `${l.policy ?? '(no policy)'}/${l.classification ?? 0} ${marking?.text ?? classificationName(l.classification)}${cats}`;
}

/** A fresh <securitylabel/> holding an ESS label (and the equivalents kept from before). */
export function buildSecurityLabel(ess: EssLabel, marking: DisplayMarking, equivalents: XmlElement[] = []): XmlElement {
  const dm = x('displaymarking', { fgcolor: marking.fg, bgcolor: marking.bg }, marking.text);
  const lab = x('label', {}, x('esssecuritylabel', { xmlns: NS_ESS }, encodeEss(ess).toString('base64')));
  for (const e of [dm, lab]) e.ns = NS_SECLABEL;
  return x('securitylabel', { xmlns: NS_SECLABEL }, dm, lab, ...equivalents.map((e) => e.clone()));
}

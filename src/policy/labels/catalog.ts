/**
 * XEP-0258 §4 label catalog, made from a clearance: one item per accepted
 * policy OID and classification up to the maximum (with the required
 * categories), an item without a label when unlabeled stanzas pass, and the
 * default label marked default. restrict='true': only these can cross.
 */
import { x, type XmlElement } from '../../xml/element.ts';
import { isOid } from './ess.ts';
import type { ClearanceSettings, LabelSpec } from './clearance.ts';
import { specToEss } from './clearance.ts';
import { buildSecurityLabel, classificationName, NS_CATALOG } from './label.ts';

/** Display marking text of a spec or a classification. */
export function markingFor(c: ClearanceSettings | undefined, s: LabelSpec): string {
  return s.marking ?? c?.markings[String(s.classification ?? 0)] ?? classificationName(s.classification);
}

function item(c: ClearanceSettings, spec: LabelSpec, selector: string, isDefault: boolean): XmlElement {
  const sl = buildSecurityLabel(specToEss(spec), { text: markingFor(c, spec), fg: spec.fgcolor, bg: spec.bgcolor });
  const it = x('item', { selector, default: isDefault ? 'true' : undefined }, sl);
  it.ns = NS_CATALOG;
  return it;
}

/** The <catalog/> answer for labels that may go to `to` under clearance `c`. */
export function buildCatalog(c: ClearanceSettings, to: string, name: string): XmlElement {
  const items: XmlElement[] = [];
  const def = typeof c.unlabeled === 'object' ? c.unlabeled : undefined;
  const classes = Object.keys(c.markings)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n <= c.max_classification)
    .sort((a, b) => a - b);
  const required = c.categories.required.filter((r) => r.includes('='));
  for (const policy of c.policies.filter(isOid)) {
    for (const cls of classes) {
      const spec: LabelSpec = { policy, classification: cls, categories: required.length ? required : undefined };
      const isDefault = !!def && def.policy === policy && (def.classification ?? 0) === cls;
      items.push(item(c, isDefault ? def : spec, `${c.policies.length > 1 ? `${policy}|` : ''}${markingFor(c, spec)}`, isDefault));
    }
  }
  if (def && !items.some((i) => i.attr('default') === 'true')) items.push(item(c, def, markingFor(c, def), true));
  if (c.unlabeled === 'pass') {
    const none = x('item', { selector: 'no label' });
    none.ns = NS_CATALOG;
    items.push(none);
  }
  return x('catalog', { xmlns: NS_CATALOG, to, name, desc: 'labels that may cross to this domain', restrict: 'true', size: String(items.length) }, ...items);
}

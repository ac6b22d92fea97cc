/**
 * The access decision (XEP-0258 §5 "ACDF") of one side's clearance for one
 * stanza, and the equivalence mapping applied at the boundary. Pure: takes
 * parsed labels, gives verdicts; the hook does the stanza edits and audit.
 */
import type { StanzaErrorCondition } from '../../xmpp/errors.ts';
import type { EssLabel } from './ess.ts';
import { categoryValueDer } from './ess.ts';
import type { Label, SecurityLabel } from './label.ts';

/** A label written in the site file (a default label, a mapping's side). */
export interface LabelSpec {
  policy: string;
  classification?: number;
  privacy_mark?: string;
  /** "OID=value" */
  categories?: string[];
  /** display marking text; default: the RFC 2634 name of the classification */
  marking?: string;
  fgcolor?: string;
  bgcolor?: string;
}

export interface ClearanceSettings {
  /** policy OIDs (or XML label namespaces) accepted */
  policies: string[];
  max_classification: number;
  categories: {
    /** each must be on the label: "OID" (any value) or "OID=value" */
    required: string[];
    /** null: any category; else every category on the label must match one */
    allowed: string[] | null;
  };
  unlabeled: 'pass' | 'refuse' | LabelSpec;
  /** display marking per classification, for the catalog */
  markings: Record<string, string>;
}

export interface EquivalenceEntry {
  /** this side's label (outbound: rewritten from; inbound: rewritten to) */
  local: LabelSpec;
  /** the partner's equivalent */
  remote: LabelSpec;
}

export type Decision =
  | { ok: true; label: Label | null; via: 'label' | 'equivalent' | 'unlabeled' }
  | { ok: false; rule: string; reason: string; condition: StanzaErrorCondition };

const deny = (rule: string, reason: string): Decision => ({ ok: false, rule, reason, condition: 'forbidden' });

/** "OID" matches any value of that type; "OID=value" that value only. */
export function categoryMatches(spec: string, category: string): boolean {
  return spec.includes('=') ? spec === category : category.slice(0, category.indexOf('=')) === spec;
}

/** Does one label fall within the clearance? */
export function checkLabel(c: ClearanceSettings, l: Label): Decision {
  if (l.policy === undefined || !c.policies.includes(l.policy)) {
    return deny('policies', `label policy ${l.policy ?? '(none)'} is not accepted here (accepted: ${c.policies.join(', ') || 'none'})`);
  }
  const cls = l.classification ?? 0;
  if (cls > c.max_classification) return deny('max_classification', `classification ${cls} is above the clearance's ${c.max_classification}`);
  const missing = c.categories.required.find((r) => !l.categories.some((cat) => categoryMatches(r, cat)));
  if (missing) return deny('categories.required', `the label lacks the required category ${missing}`);
  if (c.categories.allowed) {
    const allowed = c.categories.allowed;
    const extra = l.categories.find((cat) => !allowed.some((a) => categoryMatches(a, cat)));
    if (extra) return deny('categories.allowed', `category ${extra} is not allowed here`);
  }
  return { ok: true, label: l, via: 'label' };
}

/**
 * XEP-0258 §5: the effective label is the primary one, or else an equivalent
 * one the clearance understands. `sl` undefined: the stanza has no label.
 */
export function decide(c: ClearanceSettings, sl: SecurityLabel | undefined): Decision {
  if (!sl || sl.label === null) {
    if (c.unlabeled === 'refuse') return deny('unlabeled', 'unlabeled stanzas are refused here');
    return { ok: true, label: null, via: 'unlabeled' };
  }
  const primary = checkLabel(c, sl.label);
  if (primary.ok) return primary;
  if (primary.rule === 'policies') {
    for (const e of sl.equivalents) {
      const d = checkLabel(c, e);
      if (d.ok) return { ...d, via: 'equivalent' };
    }
  }
  return primary;
}

/** ESS form of a label spec. */
export function specToEss(s: LabelSpec): EssLabel {
  return {
    policy: s.policy,
    classification: s.classification,
    privacyMark: s.privacy_mark,
    categories: (s.categories ?? []).map((c) => {
      const i = c.indexOf('=');
      const value = c.slice(i + 1);
      return { type: c.slice(0, i), value, der: categoryValueDer(value) };
    }),
  };
}

function matchesSpec(l: Label, s: LabelSpec): boolean {
  return l.policy === s.policy && (s.classification === undefined || (l.classification ?? 0) === s.classification);
}

/**
 * The equivalent of `l` on the other side, or undefined when no entry maps it.
 * Direction 'out' rewrites local -> remote, 'in' remote -> local. Unset parts
 * of the target (classification, privacy mark, categories) keep the source's;
 * an XML label with categories maps only to a target that names its categories.
 */
export function mapLabel(table: EquivalenceEntry[], l: Label, direction: 'out' | 'in'): { ess: EssLabel; spec: LabelSpec } | undefined {
  for (const e of table) {
    const [from, to] = direction === 'out' ? [e.local, e.remote] : [e.remote, e.local];
    if (!matchesSpec(l, from)) continue;
    // An XML label's categories have no ESS form: only a target that names its own may take it.
    if (!to.categories && !l.ess && l.categories.length > 0) continue;
    return {
      spec: to,
      ess: {
        policy: to.policy,
        classification: to.classification ?? l.classification,
        privacyMark: to.privacy_mark ?? l.privacyMark,
        categories: to.categories ? specToEss(to).categories : (l.ess?.categories ?? []),
      },
    };
  }
  return undefined;
}

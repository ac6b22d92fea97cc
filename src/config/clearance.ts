/**
 * Site-file keys for XEP-0258 security labels: `clearance:` (per link: what
 * may cross to it; under `local:`: what may be delivered here) and a link's
 * `equivalence:` table. Policies are OIDs (ESS, RFC 2634) or, for the XML
 * label form, the label element's namespace.
 */
import { z } from 'zod';

const OID_RE = /^[0-2](\.(0|[1-9]\d*))+$/;
const isOid = (s: string): boolean => OID_RE.test(s) && s.length <= 200;
/** RFC 2634 ub-integer-options */
const MAX_CLASS = 256;

const oid = z.string().refine(isOid, (s) => ({ message: `expected an OID like "1.3.6.1.4.1.99999.1", got ${JSON.stringify(s)}` }));
const policy = z
  .string()
  .refine((s) => isOid(s) || /^[a-z][a-z0-9+.-]*:\S+$/i.test(s), (s) => ({ message: `expected a policy OID like "1.3.6.1.4.1.99999.1" (or an XML label namespace URI), got ${JSON.stringify(s)}` }));
const classification = z.number().int().min(0).max(MAX_CLASS);
/** "OID" (any value of the type), "OID=value" (ESS; value text, "int:N" or "hex:DER"), "attribute=token" (XML form) */
const categorySpec = z.string().refine((s) => (s.includes('=') ? s.indexOf('=') > 0 && s.indexOf('=') < s.length - 1 : isOid(s)), (s) => ({
  message: `expected a category "OID", "OID=value" or "attribute=token", got ${JSON.stringify(s)}`,
}));
const essCategory = z.string().refine((s) => s.includes('=') && isOid(s.slice(0, s.indexOf('='))) && s.indexOf('=') < s.length - 1, (s) => ({
  message: `expected an ESS category "OID=value", got ${JSON.stringify(s)}`,
}));
const color = z.string().regex(/^(#[0-9A-Fa-f]{6}|[a-z]+)$/, 'expected an HTML colour name or "#rrggbb"');

/** A label written out: an ESS label with its display marking. */
export const labelSpecSchema = z
  .object({
    policy: oid,
    classification: classification.optional(),
    privacy_mark: z.string().min(1).max(128).optional(),
    categories: z.array(essCategory).optional(),
    marking: z.string().min(1).optional(),
    fgcolor: color.optional(),
    bgcolor: color.optional(),
  })
  .strict();

export type LabelSpecConfig = z.infer<typeof labelSpecSchema>;

const RFC2634_MARKINGS: Record<string, string> = { '0': 'UNMARKED', '1': 'UNCLASSIFIED', '2': 'RESTRICTED', '3': 'CONFIDENTIAL', '4': 'SECRET', '5': 'TOP SECRET' };

/** `unlabeled: pass | refuse | { policy, classification, ... }` with issues reported at the right key. */
const unlabeledSchema = z.unknown().transform((v, ctx): 'pass' | 'refuse' | LabelSpecConfig => {
  if (v === 'pass' || v === 'refuse') return v;
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const r = labelSpecSchema.safeParse(v);
    if (r.success) return r.data;
    for (const iss of r.error.issues) ctx.addIssue(iss as z.IssueData);
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: `expected pass, refuse or a default label { policy, classification, ... }, got ${JSON.stringify(v)}` });
  return z.NEVER;
});

export const clearanceSchema = z
  .object({
    policies: z.array(policy).min(1),
    max_classification: classification,
    unlabeled: unlabeledSchema.default('refuse'),
    categories: z
      .object({ required: z.array(categorySpec).default([]), allowed: z.array(categorySpec).nullable().default(null) })
      .strict()
      .default({}),
    markings: z
      .record(z.string().regex(/^\d{1,3}$/, 'expected a classification number as key'), z.string().min(1))
      .default(RFC2634_MARKINGS),
  })
  .strict()
  .superRefine((c, ctx) => {
    // The default label must itself be within the clearance, or every unlabeled stanza is refused.
    if (typeof c.unlabeled !== 'object' || typeof c.unlabeled.policy !== 'string') return; // pass, refuse, or already reported
    const d = c.unlabeled;
    const why = !c.policies.includes(d.policy)
      ? `its policy ${d.policy} is not in policies`
      : (d.classification ?? 0) > c.max_classification
        ? `its classification ${d.classification} is above max_classification ${c.max_classification}`
        : c.categories.required.find((r) => !(d.categories ?? []).some((k) => (r.includes('=') ? k === r : k.startsWith(`${r}=`))));
    if (why) ctx.addIssue({ code: 'custom', path: ['unlabeled'], message: `expected a default label within this clearance; ${why.startsWith('its') ? why : `it lacks the required category ${why}`}` });
  });

export type ClearanceConfig = z.infer<typeof clearanceSchema>;

export const equivalenceSchema = z.array(z.object({ local: labelSpecSchema, remote: labelSpecSchema }).strict()).default([]);

export type EquivalenceConfig = z.infer<typeof equivalenceSchema>;

/** Which end of the link is 'a' and which 'b' (the core's frame direction and id spaces). */

/** Both ends derive opposite roles from the same pair of domain lists. */
export function linkRole(localDomains: readonly string[], remoteDomains: readonly string[], explicit?: 'a' | 'b' | null): 'a' | 'b' {
  if (explicit) return explicit;
  // Each end knows its own domains exactly and the partner's as patterns: compare the
  // smallest of each, with "*.x" read as x and "*" skipped, so both ends agree.
  const least = (ds: readonly string[]): string => ds.map((d) => (d.startsWith('*.') ? d.slice(2) : d)).filter((d) => d !== '*').sort()[0] ?? '';
  const l = least(localDomains);
  const r = least(remoteDomains);
  if (!r || l === r) throw new Error('cannot derive the link role from the domains: set role a at one end and b at the other');
  return l < r ? 'a' : 'b';
}

/**
 * Which traffic optimizers a bench run's relays use: `on` (all), `off` (none),
 * or a comma list of the ones left on, so each one's share can be measured.
 */
export const OPTIMIZERS = ['presence', 'disco_cache', 'fanout'] as const;
export type Optimizer = (typeof OPTIMIZERS)[number];

/** Normalized: 'on', 'off', or the sorted comma list of optimizers left on. */
export function parseOptimizeChoice(s: string): string {
  if (s === 'on' || s === 'off') return s;
  const names = s.split(',').map((n) => n.trim());
  for (const n of names) {
    if (!(OPTIMIZERS as readonly string[]).includes(n)) throw new Error(`--optimize: unknown optimizer "${n}" (on, off, or a comma list of ${OPTIMIZERS.join(', ')})`);
  }
  const set = [...new Set(names)].sort();
  return set.length === OPTIMIZERS.length ? 'on' : set.join(',');
}

/** The site file's optimize section for a choice ('' for all on: the defaults). */
export function optimizeYaml(choice: string | undefined): string {
  if (choice === undefined || choice === 'on') return '';
  const on = new Set(choice === 'off' ? [] : choice.split(','));
  return `optimize: { presence: ${on.has('presence') ? 'coalesce' : 'off'}, disco_cache: ${on.has('disco_cache')}, fanout: ${on.has('fanout')} }\n`;
}

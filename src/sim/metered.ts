/**
 * `satrelay bench --metered COST_PER_MB:BUDGET_MB`: both relays treat the
 * bearer as metered (carry messages and iq; presence and disco wait, and with
 * a 10 s hold time are bounced during the run instead of holding it up), and
 * the result gains each relay's bytes counted, cost, what waited and what was
 * refused.
 */
import type { MeteredStatus } from '../link/port.ts';
import type { RelayUsage } from './relay-process.ts';

export interface MeteredBench {
  cost_per_mb: number;
  daily_budget_mb: number;
}

/** The held-stanza time of a metered bench run, s: what waits for a better bearer is bounced within it (and the 5 s expiry tick). */
export const METERED_BENCH_HOLD_S = 10;

export interface MeteredFigures {
  metered: Record<'ship' | 'shore', { bytes: number; cost: number; budget_left_bytes: number; held_now: number; held: number; refused: number }>;
}

export function parseMeteredArg(s: string): MeteredBench {
  const m = /^(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)$/.exec(s);
  if (!m || Number(m[2]) <= 0) throw new Error(`expected COST_PER_MB:BUDGET_MB with a budget above 0, e.g. 7.5:20, got "${s}"`);
  return { cost_per_mb: Number(m[1]), daily_budget_mb: Number(m[2]) };
}

/** What the relays' site files add: the link's metered key and a short hold time. */
export function meteredSite(m: MeteredBench | undefined): { linkExtra?: string; extra?: string } {
  if (!m) return {};
  return {
    linkExtra: `    metered: { cost_per_mb: ${m.cost_per_mb}, daily_budget_mb: ${m.daily_budget_mb}, carry: [messages, iq] }\n`,
    extra: `limits: { held_stanza_timeout_s: ${METERED_BENCH_HOLD_S} }\n`,
  };
}

export function meteredNote(m: MeteredBench): string {
  return `metered: both relays see the bearer as metered at ${m.cost_per_mb} per MB, ${m.daily_budget_mb} MB a day, carrying messages and iq; presence and disco wait and are bounced to their senders after ${METERED_BENCH_HOLD_S} s (they show as lost and as bounced, and the run waits for its deadline); the baseline is plain S2S carrying everything`;
}

export function meteredFigures(u: { a: RelayUsage; b: RelayUsage }): MeteredFigures['metered'] {
  const one = (r: RelayUsage) => {
    const m: Partial<MeteredStatus> & { heldTotal?: number; refused?: number } = r.links.find((l) => l.metered)?.metered ?? {};
    return {
      bytes: m.bytesToday ?? 0,
      cost: Math.round((m.costToday ?? 0) * 10_000) / 10_000,
      budget_left_bytes: m.remainingBytes ?? 0,
      held_now: m.held ?? 0,
      held: m.heldTotal ?? 0,
      refused: m.refused ?? 0,
    };
  };
  return { ship: one(u.a), shore: one(u.b) };
}

export function meteredTableLines(m: MeteredFigures['metered'] | undefined): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([side, f]) => `  metered ${side}: ${f.bytes.toLocaleString('en-US')} B counted, cost ${f.cost.toFixed(4)}, budget left ${f.budget_left_bytes.toLocaleString('en-US')} B, ${f.held} stanzas waited (${f.held_now} still), ${f.refused} refused for the budget\n`)
    .join('');
}

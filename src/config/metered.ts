/**
 * Metered bearers (a bearer billed per megabyte) and what the site's policy
 * counts as urgent once the day's budget is spent.
 *
 * A profile (or a link, overriding its profile) may say
 *
 *   metered: { cost_per_mb: 7.5, daily_budget_mb: 20, carry: [messages, iq], currency: USD }
 *
 * On such a bearer the relay carries only the `carry` classes (the rest wait
 * for an unmetered bearer or their hold time), counts the bytes it sends and
 * receives on it against the budget of the UTC day, and once the budget is
 * spent carries only stanzas `policy.urgent` matches (link/metered/ applies
 * it; policy/urgent.ts matches). One MB is 1,000,000 bytes.
 */
import { z } from 'zod';
import type { ConfigIssue } from './errors.ts';
import type { YamlSource } from './source.ts';

/** Stanza classes a metered bearer may carry: disco is an iq of disco#info or disco#items (XEP-0030), iq is every other iq. */
export const STANZA_CLASSES = ['messages', 'iq', 'presence', 'disco'] as const;
export type StanzaClass = (typeof STANZA_CLASSES)[number];

/** Bytes in the MB of cost_per_mb and daily_budget_mb (carriers bill decimal megabytes). */
export const BYTES_PER_MB = 1_000_000;

export const METERED_DEFAULTS = { carry: ['messages', 'iq'] as StanzaClass[], currency: '' };

export const meteredSchema = z
  .object({
    cost_per_mb: z.number().finite().min(0),
    daily_budget_mb: z.number().finite().positive(),
    carry: z
      .array(z.enum(STANZA_CLASSES))
      .min(1)
      .default([...METERED_DEFAULTS.carry])
      .superRefine((list, ctx) => {
        const dup = list.find((c, i) => list.indexOf(c) !== i);
        if (dup) ctx.addIssue({ code: 'custom', message: `expected each class once, got ${JSON.stringify(dup)} twice` });
      }),
    currency: z.string().max(8).default(METERED_DEFAULTS.currency),
  })
  .strict();

export type MeteredConfig = z.output<typeof meteredSchema>;

/** policy.urgent: what still crosses a metered bearer whose daily budget is spent. */
export const urgentSchema = z
  .object({
    /** senders: a bare JID ("captain@a.example"), a full JID, or a domain ("ops.a.example") */
    from: z
      .array(
        z
          .string()
          .min(1)
          .transform((s) => s.toLowerCase())
          .refine((s) => !/\s/.test(s), 'expected a JID or a domain without spaces'),
      )
      .default([]),
    /** message types (RFC 6121 §5.2.2) */
    message_types: z.array(z.enum(['chat', 'error', 'groupchat', 'headline', 'normal'])).default([]),
    /** values of the XEP-0131 (SHIM) Urgency header that count as urgent */
    shim_urgency: z.array(z.enum(['high', 'medium', 'low'])).default([]),
  })
  .strict();

export type UrgentConfig = z.output<typeof urgentSchema>;

export const METERED_HELP: Record<string, string> = {
  'links[].metered': 'bearer billed per MB (the profile\'s, or set here); null = not metered',
  'links[].metered.cost_per_mb': 'price of one MB (1,000,000 bytes) sent or received on the bearer',
  'links[].metered.daily_budget_mb': 'MB per UTC day; once spent only stanzas policy.urgent matches cross',
  'links[].metered.carry': 'stanza classes carried on this bearer: messages, iq, presence, disco (the rest wait)',
  'links[].metered.currency': 'currency of cost_per_mb, for status and logs',
  'policy.urgent': 'stanzas that still cross a metered bearer whose daily budget is spent',
  'policy.urgent.from': 'senders: bare or full JIDs, or domains',
  'policy.urgent.message_types': 'message types: chat, error, groupchat, headline, normal',
  'policy.urgent.shim_urgency': 'XEP-0131 Urgency header values: high, medium, low',
};

const mb = (n: number): string => `${Number(n.toFixed(3))} MB`;
const money = (n: number, currency: string): string => `${n.toFixed(2)}${currency ? ` ${currency}` : ''}`;

/** `check`'s comment lines on a metered link: what it carries, what waits, the budget, and what crosses once it is spent. */
export function meteredLines(m: MeteredConfig | null, urgent: UrgentConfig, heldS: number, indent: string): string[] {
  if (!m) return [];
  const waits = STANZA_CLASSES.filter((c) => !m.carry.includes(c));
  const rules = [
    urgent.from.length ? `from ${urgent.from.join(', ')}` : '',
    urgent.message_types.length ? `message type ${urgent.message_types.join(', ')}` : '',
    urgent.shim_urgency.length ? `XEP-0131 Urgency ${urgent.shim_urgency.join(', ')}` : '',
  ].filter(Boolean);
  return [
    `${indent}#   metered: carries ${m.carry.join(', ')}` +
      (waits.length ? `; ${waits.join(' and ')} wait for an unmetered bearer (bounced after held_stanza_timeout_s, ${heldS} s)` : ''),
    `${indent}#   budget: ${mb(m.daily_budget_mb)} per UTC day, sent and received, at ${money(m.cost_per_mb, m.currency)} per MB` +
      ` (${money(m.cost_per_mb * m.daily_budget_mb, m.currency)} for the whole budget); once spent: ` +
      (rules.length ? `only stanzas ${rules.join(' or ')} (policy.urgent; they cost beyond the budget), the rest refused with resource-constraint` : 'everything refused with resource-constraint (policy.urgent matches nothing)'),
  ];
}

/** A metered bearer needs the spooled transports' queue (udp, serial, tcp): on xep0361 nothing could wait or be counted. */
export function meteredIssues(src: YamlSource, profiles: ReadonlyArray<{ profile: { metered?: unknown } } | undefined>): ConfigIssue[] {
  const links = src.get(['links']);
  if (!Array.isArray(links)) return [];
  return links.flatMap((_, i) => {
    if (src.get(['links', i, 'transport']) !== 'xep0361') return [];
    const own = src.get(['links', i, 'metered']);
    if (own !== undefined && own !== null) {
      return [src.issue(['links', i, 'metered'], 'expected no metered settings on transport xep0361 (it keeps no queue in which stanzas could wait); use udp, serial or tcp')];
    }
    if (own === undefined && profiles[i]?.profile.metered) {
      return [src.issue(['links', i, 'profile'], 'the profile is metered, but transport xep0361 keeps no queue in which stanzas could wait for the budget; use udp, serial or tcp, or set metered: null on this link')];
    }
    return [];
  });
}

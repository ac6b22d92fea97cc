/**
 * The demo's explanatory lines, as pure functions of its figures: the
 * comparison with plain S2S over the same bearer, and why nothing arrives
 * during a stall. Kept apart from demo.ts so tests can feed them figures.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const n = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d });
export const secs = (ms: number): string => (ms >= 100_000 ? `${n(ms / 1000)} s` : ms >= 1000 ? `${n(ms / 1000, 1)} s` : `${n(ms)} ms`);

/** Plain S2S over the same bearer: figures of a stored `npm run bench` run (bench/results/PROFILE-mixed.json). */
export interface PlainS2S {
  firstStanzaMs: number;
  bytesPerStanza: number;
  /** where the figures come from, e.g. "bench/results/hf-1200-mixed.json of 2026-11-23" */
  source: string;
}

export const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

/** The stored plain-S2S figures for a profile (name or path), if `npm run bench` left them. */
export function storedPlainS2S(profile: string, dir = RESULTS_DIR): PlainS2S | undefined {
  const name = basename(profile).replace(/\.ya?ml$/, '');
  const file = `${dir}${dir.endsWith('/') ? '' : '/'}${name}-mixed.json`;
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { started_at?: string; baseline?: { first_stanza_ms: number | null; bytes_per_stanza: number } | null };
    const b = r.baseline;
    if (!b || typeof b.first_stanza_ms !== 'number' || typeof b.bytes_per_stanza !== 'number') return undefined;
    return { firstStanzaMs: b.first_stanza_ms, bytesPerStanza: b.bytes_per_stanza, source: `bench/results/${name}-mixed.json${r.started_at ? ` of ${r.started_at.slice(0, 10)}` : ''}` };
  } catch {
    return undefined;
  }
}

/** The one line that answers "is this good?": this relay pair against plain S2S on the same bearer. */
export function comparisonLine(profile: string, here: { firstStanzaMs?: number; bytesPerStanza?: number }, plain: PlainS2S | undefined): string {
  if (!plain) return `no stored plain-S2S figures for ${profile}; "satrelay bench --profile ${profile} --workload mixed" measures both`;
  const first = `first stanza ${here.firstStanzaMs === undefined ? '-' : secs(here.firstStanzaMs)} (plain S2S ${secs(plain.firstStanzaMs)})`;
  const bytes = `bearer bytes per stanza ${here.bytesPerStanza === undefined ? '-' : n(here.bytesPerStanza)} (plain S2S ${n(plain.bytesPerStanza)})`;
  return `${first}, ${bytes}; plain S2S figures stored by npm run bench in ${plain.source}`;
}

export interface StallFigures {
  /** stanzas sent and not yet delivered */
  open: number;
  /** how long the oldest of them has waited, ms */
  oldestOpenMs: number;
  /** the link has heard its partner recently */
  up: boolean;
  /** current retransmission timeout, ms */
  rtoMs: number;
  /** frames on the bearer not yet acknowledged */
  inFlightFrames: number;
  /** retransmissions since the previous screen */
  retransmitsRecent: number;
  /** smoothed RTT, ms */
  rttMs?: number;
  /** stanzas waiting for the bearer */
  queued: number;
}

/** Why the oldest stanza is still waiting, once it has waited clearly longer than a round trip; else undefined. */
export function explainStall(x: StallFigures): string | undefined {
  if (x.open === 0 || x.oldestOpenMs < Math.max(5000, 3 * (x.rttMs ?? 0))) return undefined;
  const waited = `oldest stanza waiting ${secs(x.oldestOpenMs)}`;
  if (!x.up) return `${waited}: the link is down (nothing heard from the partner); stanzas wait in the spool until it is back`;
  if (x.retransmitsRecent > 0 || x.inFlightFrames > 0) {
    return `${waited}: retransmitting after loss, RTO ${secs(x.rtoMs)} (the timeout doubles after each loss on the same frame)`;
  }
  return `${waited}: the bearer is busy, ${n(x.queued)} stanzas queued for it`;
}

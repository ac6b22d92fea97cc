/**
 * Link profiles (profiles/*.yaml): `bearer` (what the emulator reproduces) and
 * `tuning` (what the relay's link protocol uses on that bearer). Tuning values
 * left out are computed from the bearer (see resolveTuning).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, sortIssues, type ConfigIssue } from './errors.ts';
import { YamlSource, didYouMean, zodIssues, type PathSeg } from './source.ts';
import { meteredSchema, type MeteredConfig } from './metered.ts';

/** The shipped profiles: <repo>/profiles/. */
export const PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../profiles');

// ---- schemas -----------------------------------------------------------------

const num = () => z.number().finite();
const prob = () => num().min(0).max(1);

const lossSchema = z.discriminatedUnion('model', [
  z.object({ model: z.literal('bernoulli'), p: prob() }).strict(),
  z
    .object({
      model: z.literal('gilbert_elliott'),
      p_gb: prob(), // P(good -> bad) per packet
      p_bg: prob(), // P(bad -> good) per packet
      loss_good: prob().default(0),
      loss_bad: prob().default(1),
    })
    .strict(),
]);

/** One outage: either once (`start_s`) or periodic (`every_s`, optional `offset_s`). */
const outageSchema = z
  .object({
    start_s: num().min(0).optional(),
    every_s: num().positive().optional(),
    offset_s: num().min(0).optional(),
    duration_s: num().min(0),
  })
  .strict()
  .superRefine((o, ctx) => {
    if ((o.start_s === undefined) === (o.every_s === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of start_s (once) or every_s (periodic)' });
    }
    if (o.every_s !== undefined && o.duration_s >= o.every_s) {
      ctx.addIssue({ code: 'custom', path: ['duration_s'], message: `expected less than every_s (${o.every_s}), got ${o.duration_s}` });
    }
    if (o.start_s !== undefined && o.offset_s !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['offset_s'], message: 'only used with every_s' });
    }
  });

const bearerSchema = z
  .object({
    rate_bps: num().positive(),
    delay_ms: num().min(0),
    jitter_ms: num().min(0).default(0),
    loss: lossSchema.default({ model: 'bernoulli', p: 0 }),
    ber: prob().default(0),
    mtu: z.number().int().min(64).max(65507).default(1500),
    duplex: z.enum(['full', 'half']).default('full'),
    turnaround_ms: num().min(0).default(0),
    duplicate: prob().default(0),
    reorder: prob().default(0),
    outages: z.array(outageSchema).default([]),
    queue_bytes: z.number().int().positive().optional(),
    overhead_bytes: z.number().int().min(0).optional(),
    nat_timeout_s: num().positive().optional(),
  })
  .strict();

/** Tuning keys; every one optional in a profile or a link's `tuning:` override. */
export const tuningSchema = z
  .object({
    frame_bytes: z.number().int().min(64).max(65507).optional(),
    window_frames: z.number().int().min(1).max(4096).optional(),
    max_frames_in_flight: z.number().int().min(1).max(4096).optional(),
    rto_min_ms: num().positive().optional(),
    rto_max_ms: num().positive().optional(),
    ack_delay_ms: num().min(0).optional(),
    keepalive_s: num().positive().optional(),
    link_down_after_s: num().positive().optional(),
    compression_level: z.number().int().min(0).max(9).optional(),
    coalesce_delay_ms: num().min(0).optional(),
    probe_interval_ms: num().positive().optional(),
    nat_keepalive_s: num().positive().optional(),
    failover_after_s: num().positive().optional(),
  })
  .strict();

const profileSchema = z
  .object({
    description: z.string().default(''),
    bearer: bearerSchema,
    tuning: tuningSchema.default({}),
    metered: meteredSchema.optional(),
  })
  .strict();

// ---- types ---------------------------------------------------------------------

export type LossModel = z.output<typeof lossSchema>;
export type Outage = { start_s: number; duration_s: number } | { every_s: number; duration_s: number; offset_s?: number };

/** What the emulator reproduces. Shape-compatible with the emulator's BearerParams. */
export interface BearerProfile {
  /** line rate, bit/s */
  rate_bps: number;
  /** one-way delay, ms (propagation + modem/interleaver/processing) */
  delay_ms: number;
  /** uniform +/- jitter on delay_ms, ms */
  jitter_ms: number;
  loss: LossModel;
  /** bit error rate after the bearer's own FEC */
  ber: number;
  /** largest datagram the bearer carries, bytes */
  mtu: number;
  duplex: 'full' | 'half';
  /** half duplex: silence when the direction changes, ms */
  turnaround_ms: number;
  duplicate: number;
  reorder: number;
  outages: Outage[];
  /** drop-tail queue per direction (emulator default when absent) */
  queue_bytes?: number;
  /** framing bytes charged per packet on the line (emulator default when absent) */
  overhead_bytes?: number;
  /** the carrier NAT forgets a UDP mapping unused this long, s (absent: no NAT known) */
  nat_timeout_s?: number;
}

/** What the relay's link protocol uses; every field filled (computed from the bearer when not given). */
export interface TuningProfile {
  /** link frame size, bytes, <= bearer.mtu */
  frame_bytes: number;
  /** selective-repeat window, frames: default 2 x bandwidth-delay product / frame_bytes, in [4, 1024] */
  window_frames: number;
  /** frames sent but not yet acknowledged, <= window_frames (default window_frames) */
  max_frames_in_flight: number;
  /** retransmission timeout floor, ms: default RTT + 2 frame times + ack_delay_ms */
  rto_min_ms: number;
  /** retransmission timeout ceiling (back-off cap), ms: default max(60000, 4 x rto_min_ms) */
  rto_max_ms: number;
  /** how long the receiver waits to batch acknowledgements, ms: default RTT/10 in [10, 200] */
  ack_delay_ms: number;
  /** keepalive interval when idle, s (default 30) */
  keepalive_s: number;
  /** link declared down after this long without a frame from the partner, s (default 3 x keepalive_s + RTT) */
  link_down_after_s: number;
  /** deflate level 0-9 (default 9 below 100 kbit/s, else 6) */
  compression_level: number;
  /** how long a partly filled frame waits for more stanzas, ms (default min(100, frame time / 2), at least 5) */
  coalesce_delay_ms: number;
  /** probe cadence in an outage while something waits, ms (default 1.5 x RTT + 1 s - the line time of 2 frames and 2 probes, in [500, rto_max_ms]) */
  probe_interval_ms: number;
  /** keepalive of an end with peer, below bearer.nat_timeout_s (default 2/3 of it); absent: no NAT timeout known */
  nat_keepalive_s?: number;
  /** a link over several bearers declares this bearer down (and fails over) after this long without a frame on it, s; absent: link_down_after_s */
  failover_after_s?: number;
}

export type TuningOverrides = Partial<TuningProfile>;

export interface ProfileConfig {
  /** file name without .yaml */
  name: string;
  /** absolute path of the profile file */
  file: string;
  description: string;
  bearer: BearerProfile;
  tuning: TuningProfile;
  /** billed per MB (config/metered.ts); absent: not metered */
  metered?: MeteredConfig;
}

// ---- computed tuning -----------------------------------------------------------------

/** Bytes of one outage probe at most: header (8 B below 2^21 frames), PING, an ACK block of one range, tag. */
export const PROBE_FRAME_BYTES = 32;

/** Round-trip time of the bearer in ms: two one-way delays, worst-case jitter, two turnarounds if half duplex. */
export function bearerRttMs(b: BearerProfile): number {
  return 2 * b.delay_ms + 2 * b.jitter_ms + (b.duplex === 'half' ? 2 * b.turnaround_ms : 0);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Fills every tuning value not given, from the bearer. */
export function resolveTuning(b: BearerProfile, given: TuningOverrides): TuningProfile {
  const rtt = bearerRttMs(b);
  const frame_bytes = given.frame_bytes ?? Math.min(b.mtu, 1200);
  const frameMs = (frame_bytes * 8 * 1000) / b.rate_bps;
  const bdpBytes = (b.rate_bps / 8) * (rtt / 1000);
  const window_frames = given.window_frames ?? clamp(Math.ceil((2 * bdpBytes) / frame_bytes), 4, 1024);
  const ack_delay_ms = given.ack_delay_ms ?? clamp(Math.round(rtt / 10), 10, 200);
  const rto_min_ms = given.rto_min_ms ?? Math.ceil(rtt + 2 * frameMs + ack_delay_ms);
  const keepalive_s = given.keepalive_s ?? 30;
  const rto_max_ms = given.rto_max_ms ?? Math.max(60_000, 4 * rto_min_ms);
  return {
    frame_bytes,
    window_frames,
    max_frames_in_flight: given.max_frames_in_flight ?? window_frames,
    rto_min_ms,
    rto_max_ms,
    ack_delay_ms,
    keepalive_s,
    link_down_after_s: given.link_down_after_s ?? Math.ceil(3 * keepalive_s + rtt / 1000),
    compression_level: given.compression_level ?? (b.rate_bps < 100_000 ? 9 : 6),
    coalesce_delay_ms: given.coalesce_delay_ms ?? clamp(Math.round(frameMs / 2), 5, 100),
    // The first stanza after an outage crosses within probe_interval_ms + a probe, its ACK and two frames
    // of data (resumeBoundMs): within 3 RTT + 1 s (link/core/outage.ts has the same formula).
    probe_interval_ms: given.probe_interval_ms ?? Math.min(rto_max_ms, Math.max(500, Math.round(1.5 * rtt + 1000 - 2 * frameMs - (2 * PROBE_FRAME_BYTES * 8000) / b.rate_bps))),
    ...natKeepalive(b, given),
    ...(given.failover_after_s !== undefined ? { failover_after_s: given.failover_after_s } : {}),
  };
}

/** An end behind a NAT refreshes its mapping at 2/3 of the NAT's timeout (RFC 4787 §4.3: outbound refresh). */
function natKeepalive(b: BearerProfile, given: TuningOverrides): Pick<TuningProfile, 'nat_keepalive_s'> {
  const v = given.nat_keepalive_s ?? (b.nat_timeout_s !== undefined ? Math.max(1, Math.floor((2 * b.nat_timeout_s) / 3)) : undefined);
  return v === undefined ? {} : { nat_keepalive_s: v };
}

/** IPv4 + UDP header bytes each datagram costs on the bearer. */
export const UDP_IP_BYTES = 28;

/**
 * Bytes per hour the NAT keepalive costs on an idle link, both ways: a PING
 * from the end with peer and the partner's ACK, each a probe-sized frame in a
 * UDP datagram (measured: test/link/core/nat.test.ts).
 */
export function natKeepaliveBytesPerHour(t: Pick<TuningProfile, 'nat_keepalive_s'>): number {
  if (t.nat_keepalive_s === undefined) return 0;
  return Math.ceil(3600 / t.nat_keepalive_s) * 2 * (PROBE_FRAME_BYTES + UDP_IP_BYTES);
}


/** Longest wait from the bearer's return to the first stanza across: a probe interval, a probe, its ACK and two frames of data. */
export function resumeBoundMs(b: BearerProfile, t: Pick<TuningProfile, 'probe_interval_ms' | 'frame_bytes'>): number {
  return Math.round(t.probe_interval_ms + 1.5 * bearerRttMs(b) + (2 * (t.frame_bytes + PROBE_FRAME_BYTES) * 8000) / b.rate_bps);
}

/** Bytes one end spends on probes per hour of outage while it has something to send. */
export function probeBytesPerHour(t: Pick<TuningProfile, 'probe_interval_ms'>): number {
  return Math.ceil(3_600_000 / t.probe_interval_ms) * PROBE_FRAME_BYTES;
}

/** Checks a resolved tuning against its bearer; `at` maps a tuning key to where an issue is reported. */
export function checkTuning(b: BearerProfile, t: TuningProfile, at: (key: keyof TuningProfile, msg: string) => void): void {
  if (t.frame_bytes > b.mtu) at('frame_bytes', `expected at most the bearer mtu (${b.mtu}), got ${t.frame_bytes}`);
  if (t.max_frames_in_flight > t.window_frames) {
    at('max_frames_in_flight', `expected at most window_frames (${t.window_frames}), got ${t.max_frames_in_flight}`);
  }
  if (t.rto_min_ms > t.rto_max_ms) at('rto_min_ms', `expected at most rto_max_ms (${t.rto_max_ms}), got ${t.rto_min_ms}`);
  if (t.probe_interval_ms > t.rto_max_ms) {
    at('probe_interval_ms', `expected at most rto_max_ms (${t.rto_max_ms}), got ${t.probe_interval_ms}`);
  }
  if (t.nat_keepalive_s !== undefined && b.nat_timeout_s !== undefined && t.nat_keepalive_s >= b.nat_timeout_s) {
    at('nat_keepalive_s', `expected less than the bearer's nat_timeout_s (${b.nat_timeout_s}), or the NAT forgets the mapping between keepalives; got ${t.nat_keepalive_s}`);
  }
  if (t.failover_after_s !== undefined && t.failover_after_s < 1) {
    at('failover_after_s', `expected at least 1 s (a bearer is probed three times within it), got ${t.failover_after_s}`);
  }
  if (t.link_down_after_s <= t.keepalive_s) {
    at('link_down_after_s', `expected more than keepalive_s (${t.keepalive_s}), got ${t.link_down_after_s}`);
  }
}

// ---- loading -------------------------------------------------------------------------

/** A path for messages: relative to the working directory when inside it. */
export function displayPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** Names of the shipped profiles (profiles/*.yaml), sorted. */
export function listProfiles(): string[] {
  if (!existsSync(PROFILES_DIR)) return [];
  return readdirSync(PROFILES_DIR)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** True when `s` names a file rather than a shipped profile. */
export function isProfilePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || /\.ya?ml$/i.test(s);
}

/** Where a profile reference points, or an issue message saying why it does not resolve. */
export function resolveProfileFile(nameOrPath: string, baseDir = process.cwd()): { file: string } | { error: string } {
  if (isProfilePath(nameOrPath)) {
    const file = resolve(baseDir, nameOrPath);
    return existsSync(file) ? { file } : { error: `profile file not found: ${file}` };
  }
  const names = listProfiles();
  if (names.includes(nameOrPath)) return { file: resolve(PROFILES_DIR, `${nameOrPath}.yaml`) };
  const guess = didYouMean(nameOrPath, names);
  return {
    error: guess
      ? `unknown profile "${nameOrPath}"; did you mean "${guess}"?`
      : `unknown profile "${nameOrPath}"; expected one of ${names.join(', ')} or a path to a .yaml file`,
  };
}

/** Internal: a parsed profile plus the tuning keys it gave (for link-level overrides). */
export interface LoadedProfile {
  profile: ProfileConfig;
  tuningGiven: TuningOverrides;
}

/** Parses profile text; returns issues (all of them) instead of throwing. */
export function parseProfileText(text: string, file: string, displayName = displayPath(file)): { loaded?: LoadedProfile; issues: ConfigIssue[] } {
  const parsed = YamlSource.parse(text, displayName);
  if (!parsed.src) return { issues: parsed.issues };
  const src = parsed.src;
  const res = profileSchema.safeParse(src.data);
  if (!res.success) return { issues: sortIssues(zodIssues(profileSchema, res.error, src)) };
  const bearer = res.data.bearer as BearerProfile;
  const tuningGiven = res.data.tuning;
  const tuning = resolveTuning(bearer, tuningGiven);
  const issues: ConfigIssue[] = [];
  checkTuning(bearer, tuning, (key, msg) => {
    // a computed value's problem is reported at the key it was computed from, if that was given
    const path: PathSeg[] = key in tuningGiven ? ['tuning', key] : ['tuning'];
    issues.push(src.issue(path, msg));
  });
  if (issues.length) return { issues };
  const name = basename(file).replace(/\.ya?ml$/i, '');
  const metered = res.data.metered ? { metered: res.data.metered } : {};
  return { loaded: { profile: { name, file, description: res.data.description, bearer, tuning, ...metered }, tuningGiven }, issues: [] };
}

export function loadProfileFile(file: string): { loaded?: LoadedProfile; issues: ConfigIssue[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { issues: [{ file: displayPath(file), path: '', message: `cannot read profile: ${(err as Error).message}` }] };
  }
  return parseProfileText(text, file);
}

/**
 * Loads a profile by name (profiles/NAME.yaml) or path (relative to baseDir,
 * default the working directory). Throws ConfigError.
 */
export function loadProfile(nameOrPath: string, baseDir?: string): ProfileConfig {
  const where = resolveProfileFile(nameOrPath, baseDir);
  if ('error' in where) throw new ConfigError([{ file: nameOrPath, path: '', message: where.error }]);
  const { loaded, issues } = loadProfileFile(where.file);
  if (!loaded) throw new ConfigError(issues);
  return loaded.profile;
}

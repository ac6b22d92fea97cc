/**
 * The simulated-time pair (pair.ts) over one shipped profile's bearer: both
 * endpoints tuned from the profile the
 * way the relay tunes them (linkTuning), joined by a LinkEmulator with that
 * profile's bearer (rate, delay, jitter, half duplex and turnaround, loss,
 * mtu). Outages are added with outage(); the profile's own scheduled outages
 * are left out so a test places them.
 */
import { LinkEmulator, type BearerParams, type NatParams } from '../../../src/emulator/index.ts';
import { bearerRttMs, loadProfile, type LinkConfig, type ProfileConfig, type SiteConfig } from '../../../src/config/index.ts';
import { linkTuning } from '../../../src/relay/from-config.ts';
import type { LinkTuning } from '../../../src/link/core/index.ts';
import { Pair } from './pair.ts';

/** The core's tuning for a profile, as the relay derives it (256 KiB stanza limit). */
export function profileTuning(p: ProfileConfig): LinkTuning {
  const cfg = { limits: { max_stanza_bytes: 256 * 1024 } } as SiteConfig;
  return linkTuning(cfg, { profileConfig: p, tuning: p.tuning } as LinkConfig);
}

export interface EmuPairOptions {
  profile: string;
  seed: number;
  /** false: the profile's loss and bit errors are switched off (default true). */
  loss?: boolean;
  tuning?: Partial<LinkTuning>;
  /** A NAT in front of one side (the emulator's nat.ts). */
  nat?: NatParams;
}

export class EmuPair extends Pair {
  readonly profile: ProfileConfig;
  /** The profile's round-trip time (bearerRttMs: worst jitter and both turnarounds included). */
  readonly rttMs: number;

  constructor(o: EmuPairOptions) {
    const profile = loadProfile(o.profile);
    const params: BearerParams = { ...profile.bearer, outages: [], ...(o.nat ? { nat: o.nat } : {}) };
    if (o.loss === false) {
      delete params.loss;
      params.ber = 0;
    }
    super({ seed: o.seed, tuning: { ...profileTuning(profile), ...o.tuning }, bearer: params });
    this.profile = profile;
    this.rttMs = bearerRttMs(profile.bearer);
  }

  /** The one emulator both directions share. */
  get emu(): LinkEmulator { return this.ab.emu; }

  /** Both directions dark over [startMs, startMs + durationMs). */
  outage(startMs: number, durationMs: number): void {
    this.emu.addOutage(startMs, durationMs);
  }

  /** Bytes both ends offered to the bearer so far. */
  bearerBytes(): number {
    return this.emu.stats.ab.bytes_sent + this.emu.stats.ba.bytes_sent;
  }
}

/**
 * `satrelay bench --nat-rebind S`: the ship (side a) sits behind a NAT that
 * gives it a new source port every S s of the run (the emulator's nat.ts);
 * the shore relay has no `peer` and follows the ship (link/drivers/roaming.ts).
 * Figures (relay only; the plain-S2S baseline runs without the NAT, as a
 * rebinding would cut its TCP connections):
 *   nat.rebinds         new source ports the NAT gave the ship during the run
 *   nat.shore_followed  times the shore moved to the ship's new address
 *   nat.dropped         datagrams to the ship addressed to a port the NAT no longer maps
 */
import type { BearerParams, EmulatorControl, DirStats } from '../emulator/index.ts';

export interface NatFigures {
  nat: { rebind_every_s: number; rebinds: number; shore_followed: number; dropped: number } | null;
}

/** "S": seconds > 0. */
export function parseNatRebindArg(v: string): number {
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new Error(`expected seconds > 0, got "${v}"`);
  return n;
}

/** The bearer with the ship behind a NAT rebinding every `everyS` (and the profile's NAT timeout, if any). */
export function withNat(params: BearerParams, everyS: number): BearerParams {
  return { ...params, nat: { side: 'a', rebind_every_s: everyS, ...(params.nat_timeout_s !== undefined ? { timeout_s: params.nat_timeout_s } : {}) } };
}

/** After the run: what the NAT did and how often the shore (side b) followed (`followed`: its link_peer_address_changes_total{kind=moved}). */
export function natFigures(w: { control?: EmulatorControl; emulatorStats(): { ab: DirStats; ba: DirStats } }, everyS: number, followed: number): NatFigures {
  const state = w.control?.nat();
  if (!state) return { nat: null };
  const s = w.emulatorStats();
  return { nat: { rebind_every_s: everyS, rebinds: state.rebinds, shore_followed: followed, dropped: s.ab.dropped_nat + s.ba.dropped_nat } };
}

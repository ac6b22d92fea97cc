/**
 * What a link over several bearers shows of each (status, status page), and
 * the hook through which metered bearers are accounted.
 */

export interface BearerStatus {
  /** "1:starlink-maritime": position (1 = primary) and profile. */
  name: string;
  profile: string;
  transport: string;
  /** Heard within its link_down_after_s (or not yet declared down). */
  up: boolean;
  /** The bearer the link sends on now. */
  current: boolean;
  /** Frames put on it and authentic frames taken from it, bytes. */
  bytesSent: number;
  bytesReceived: number;
  /** Metered bearers: cost so far today, in the profile's currency (from BearerAccounting). */
  costToday?: number;
}

/**
 * Metered bearers (`metered:`): asked for the cost so far today, for status.
 * Whoever owns the budget implements it (link/metered counts the bytes from
 * the link's totals).
 */
export interface BearerAccounting {
  /** Cost so far today on bearer `name`; undefined: not metered. */
  costToday(name: string): number | undefined;
}

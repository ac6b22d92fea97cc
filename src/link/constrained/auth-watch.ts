/**
 * What dropped link frames mean, told to the operator once per tick from the
 * core's drop counts (stats().framesDroppedBy; docs/operator-guide.md,
 * "Forged frames or a key mismatch"):
 *  - frames fail authentication while the partner's frames authenticate (the
 *    link is up): forged or corrupted frames, not a key mismatch; counted in
 *    link_forged_frames_total;
 *  - frames fail and nothing from the partner authenticates: the keys differ
 *    (or the partner is silent and the frames are forged); link_key_mismatch 1;
 *  - frames of an earlier partner session while the link is down: the partner
 *    may have lost its link state (a reinstall), or they are replayed.
 * Each kind logs at most one line a minute.
 */
import type { LinkStats } from '../core/index.ts';
import { LogLimiter } from '../core/index.ts';
import type { Metrics } from '../../obs/metrics.ts';
import type { Logger } from '../../obs/log.ts';
import type { FreshReason } from './session-store.ts';

export interface AuthWatchOptions { name: string; metrics: Metrics; log: Logger; keyId?: string; fresh?: FreshReason }

export class AuthWatch {
  private readonly limit = new LogLimiter(60_000);
  private seen = { auth: 0, stale: 0, received: 0 };

  constructor(private readonly o: AuthWatchOptions) {}

  /** `up`: the partner was heard within link_down_after_s. */
  tick(now: number, up: boolean, s: LinkStats): void {
    const { metrics } = this.o;
    const lbl = { link: this.o.name };
    const cur = { auth: s.framesDroppedBy.auth ?? 0, stale: s.framesDroppedBy.stale_session ?? 0, received: s.framesReceived };
    const d = { auth: cur.auth - this.seen.auth, stale: cur.stale - this.seen.stale, received: cur.received - this.seen.received };
    this.seen = cur;
    const live = up || d.received > 0;
    if (d.auth > 0 && live) {
      metrics.inc('link_forged_frames_total', lbl, d.auth);
      metrics.set('link_key_mismatch', 0, lbl);
      this.say('forged', now, 'warn', { frames: d.auth, authentic: d.received },
        'link frames failed authentication while the partner\'s frames authenticate: forged or corrupted frames on the bearer, not a key mismatch; dropped before any effect');
    } else if (d.auth > 0) {
      metrics.set('link_key_mismatch', 1, lbl);
      const hint = this.o.fresh && this.o.fresh !== 'key_changed' ? '; this relay started without its link state: if the partner ran with this key before, see "A relay lost its link state" in the operator guide' : '';
      this.say('mismatch', now, 'warn', { frames: d.auth, keyId: this.o.keyId },
        `link frames fail authentication and none from the partner authenticates: do both ends hold the same key_file (compare the key ids in both logs)? If the ids match, these frames are forged${hint}`);
    } else if (live) {
      metrics.set('link_key_mismatch', 0, lbl);
    }
    if (d.stale > 0 && !live && s.staleSession !== undefined) {
      this.say('stale', now, 'warn', { frames: d.stale, partnerSession: s.staleSession, accepted: s.peerSession },
        'frames from a partner session below one accepted before are refused: if the partner relay was reinstalled or lost its data_dir, see "A relay lost its link state" in the operator guide; otherwise they are recorded frames replayed');
    } else if (d.stale > 0) {
      this.say('replayed', now, 'info', { frames: d.stale }, 'frames of earlier link sessions dropped before any effect (late frames after a restart, or recorded frames replayed)');
    }
  }

  private say(key: string, now: number, level: 'info' | 'warn', fields: Record<string, unknown>, msg: string): void {
    const held = this.limit.allow(key, now);
    if (held !== undefined) this.o.log[level]({ ...fields, held }, msg);
  }
}

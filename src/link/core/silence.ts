/**
 * A stream that falls silent (docs/link-protocol.md §6.2), sans-IO.
 *
 * An end that was hearing its partner's data (the last frame heard carried
 * stream segments, a message is still being reassembled, or MSGACKs the
 * partner waits for are still owed: a hold keeps them back) and then hears
 * nothing for one RTO, with nothing of its own in flight, sends a PING that
 * the ARQ does not track: the partner's ACK (or, at a roaming end, the new
 * source address of that authenticated frame) lets the flow resume. This is
 * what brings back a partner whose frames go to a NAT mapping that is gone,
 * when only the partner has traffic. Again after 2, 4, ... RTO (each gap at
 * most rtoMaxMs) while the silence lasts, and no more once the keepalive
 * (or the link-down timer) would take over. A frame heard ends it; an idle
 * link (last frame heard without data) never pays for it.
 */
export class SilenceWatch {
  /** The partner's stream was in progress when last heard. */
  private streaming = false;
  private sent = 0;
  private lastAt = -Infinity;

  /** An authentic frame heard; `midStream`: it carried data, or a message is incomplete. */
  onHeard(midStream: boolean): void {
    this.streaming = midStream;
    this.sent = 0;
  }

  /** A silence PING went at `now`. */
  onSent(now: number): void {
    this.sent++;
    this.lastAt = now;
  }

  /**
   * When the next silence PING is due: one RTO after the partner was last
   * heard, then doubling gaps (capped at `capMs`); undefined when not
   * streaming (nor `owed`: MSGACKs the partner waits for) or once the
   * silence would reach `untilMs` (the keepalive's turn).
   */
  at(lastRecvAt: number, rtoMs: number, capMs: number, untilMs: number, owed: boolean): number | undefined {
    if (!this.streaming && !owed) return undefined;
    const t = this.sent === 0 ? lastRecvAt + rtoMs : this.lastAt + Math.min(capMs, rtoMs * 2 ** this.sent);
    return t - lastRecvAt < untilMs ? t : undefined;
  }
}

/**
 * Resume after each bearer outage of the soak: from the bearer's return to
 * the next stanza that crossed it (the ledger's first deliveries), and the
 * bytes spent while it was dark: the relays' probes and hold frames
 * (satrelay_link_probe_bytes_total of both) and everything offered to the
 * bearer (the emulator's counters).
 */
export interface OutageResume {
  /** when the bearer was cut, ms since the run started, and for how long */
  at: number;
  durationMs: number;
  /** null: nothing crossed after the return before the run ended */
  resumeMs: number | null;
  /** null: a relay did not answer its metrics */
  probeBytes: number | null;
  bearerBytes: number;
}

interface Pending { r: OutageResume; restoredAt: number; probe0?: number; bearer0: number }

export class ResumeWatch {
  readonly outages: OutageResume[] = [];
  private readonly open: Pending[] = [];

  /** The bearer is cut now for `durationMs`; counters as they are at the cut. */
  cut(at: number, durationMs: number, probeBytes: number | undefined, bearerBytes: number): Pending {
    const p: Pending = { r: { at: Math.round(at), durationMs, resumeMs: null, probeBytes: null, bearerBytes: 0 }, restoredAt: at + durationMs, probe0: probeBytes, bearer0: bearerBytes };
    this.outages.push(p.r);
    this.open.push(p);
    return p;
  }

  /** The bearer is back: counters as they are now. */
  restored(p: Pending, probeBytes: number | undefined, bearerBytes: number): void {
    p.r.probeBytes = probeBytes !== undefined && p.probe0 !== undefined ? probeBytes - p.probe0 : null;
    p.r.bearerBytes = bearerBytes - p.bearer0;
  }

  /** A stanza crossed the bearer and arrived at `now`. */
  arrived(now: number): void {
    for (let i = this.open.length - 1; i >= 0; i--) {
      const p = this.open[i];
      if (now < p.restoredAt) continue;
      p.r.resumeMs = Math.round(now - p.restoredAt);
      this.open.splice(i, 1);
    }
  }
}

/** Summary lines: one per outage, against the target (3 RTT + 1 s of the profile). */
export function formatResumes(outages: OutageResume[], targetMs: number): string[] {
  if (outages.length === 0) return [];
  const kb = (n: number | null) => (n === null ? '?' : `${(n / 1024).toFixed(1)} KiB`);
  const over = outages.filter((o) => o.resumeMs === null || o.resumeMs > targetMs).length;
  return [
    `  outages: first stanza across after the bearer returned (target 3 RTT + 1 s = ${(targetMs / 1000).toFixed(1)} s; ${over} over)`,
    ...outages.map((o) =>
      `      at ${(o.at / 1000).toFixed(0).padStart(5)} s for ${(o.durationMs / 1000).toFixed(1).padStart(5)} s: resumed ${o.resumeMs === null ? 'never' : `${(o.resumeMs / 1000).toFixed(2)} s`}` +
      ` after; probes ${kb(o.probeBytes)}, offered while dark ${kb(o.bearerBytes)}`),
  ];
}

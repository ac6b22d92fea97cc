/**
 * The link core's counters as metrics. The core (link/core) imports no
 * metrics library: it counts, and stats() gives a snapshot; here the host adds
 * what grew since the last snapshot to the prom-client metrics, with the
 * names, labels and HELP of the catalog (src/obs/catalog.ts). The metrics are
 * brought up to date before every read (a scrape, the status page, a test).
 */
import type { Metrics } from '../../obs/metrics.ts';
import type { LinkCounters } from '../core/index.ts';

type Plain = { [K in keyof LinkCounters]: LinkCounters[K] extends number ? K : never }[keyof LinkCounters];
type ByReason = 'framesDroppedBy' | 'messagesDropped' | 'streamResets';

/** Counters with one series per link. */
const PLAIN: Array<[Plain, string]> = [
  ['framesSent', 'link_frames_sent_total'], ['bytesSent', 'link_bytes_sent_total'], ['headerBytes', 'link_header_bytes_total'],
  ['framesReceived', 'link_frames_received_total'], ['bytesReceived', 'link_bytes_received_total'],
  ['retransmits', 'link_retransmits_total'], ['duplicates', 'link_duplicates_total'], ['downs', 'link_down_total'],
  ['backoffResets', 'link_backoff_resets_total'], ['outages', 'link_outages_total'],
  ['outageProbes', 'link_probes_total'], ['outageBytes', 'link_probe_bytes_total'],
];

/** Counters with a `reason` label. */
const BY_REASON: Array<[ByReason, string]> = [
  ['framesDroppedBy', 'link_frames_dropped_total'], ['messagesDropped', 'link_messages_dropped_total'], ['streamResets', 'link_stream_resets_total'],
];

export class CoreMetrics {
  private last: LinkCounters | undefined;
  private readonly labels: { link: string };

  constructor(private readonly metrics: Metrics, link: string) {
    this.labels = { link };
  }

  /** Adds what grew since the last snapshot (a new endpoint, counting from 0 again, counts whole). */
  update(c: LinkCounters): void {
    const last = this.last;
    const grew = (now: number, before: number | undefined): number => (before === undefined || now < before ? now : now - before);
    for (const [key, name] of PLAIN) {
      const d = grew(c[key], last?.[key]);
      if (d > 0) this.metrics.inc(name, this.labels, d);
    }
    for (const [key, name] of BY_REASON) {
      const was: Record<string, number | undefined> = last?.[key] ?? {};
      for (const [reason, n] of Object.entries(c[key] as Record<string, number | undefined>)) {
        const d = grew(n ?? 0, was[reason]);
        if (d > 0) this.metrics.inc(name, { ...this.labels, reason }, d);
      }
    }
    this.last = { ...c, framesDroppedBy: { ...c.framesDroppedBy }, messagesDropped: { ...c.messagesDropped }, streamResets: { ...c.streamResets } };
  }

  /** The endpoint behind `stats` is about to be replaced: take its last counts and start afresh. */
  rebase(c: LinkCounters): void {
    this.update(c);
    this.last = undefined;
  }
}

/** Keeps `metrics` up to date with an endpoint's counters, before every read of the metrics. */
export function meterCore(metrics: Metrics, link: string, stats: () => LinkCounters): CoreMetrics {
  const m = new CoreMetrics(metrics, link);
  metrics.onCollect(() => m.update(stats()));
  return m;
}

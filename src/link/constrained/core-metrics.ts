/**
 * The link core's counters as metrics. The core (link/core) imports no
 * metrics library: it counts, and stats() gives a snapshot; here the host adds
 * what grew since the last snapshot to the prom-client metrics, with the
 * names, labels and HELP of the catalog (src/obs/catalog.ts). The metrics are
 * brought up to date before every read (a scrape, the status page, a test).
 */
import type { Metrics } from '../../obs/metrics.ts';
import { copyCounters, type LinkCounters } from '../core/index.ts';

type PlainKey = { [K in keyof LinkCounters]: LinkCounters[K] extends number ? K : never }[keyof LinkCounters];

/** What grew from `before` to `now` (a new endpoint, counting from 0 again, counts whole). */
function grew(now: number, before: number | undefined): number {
  return before === undefined || now < before ? now : now - before;
}

/** The same per reason. */
function grewBy(now: Partial<Record<string, number>>, before: Partial<Record<string, number>> | undefined): Array<[string, number]> {
  return Object.entries(now).flatMap(([reason, n]) => {
    const d = grew(n ?? 0, before?.[reason]);
    return d > 0 ? [[reason, d] as [string, number]] : [];
  });
}

export class CoreMetrics {
  private last: LinkCounters | undefined;
  private readonly labels: { link: string };

  constructor(private readonly metrics: Metrics, link: string) {
    this.labels = { link };
  }

  /** Adds what grew since the last snapshot. */
  update(c: LinkCounters): void {
    const l = this.last;
    const n = (key: PlainKey): number => grew(c[key], l?.[key]);
    const lbl = this.labels;
    let d: number;
    if ((d = n('framesSent'))) this.metrics.inc('link_frames_sent_total', lbl, d);
    if ((d = n('bytesSent'))) this.metrics.inc('link_bytes_sent_total', lbl, d);
    if ((d = n('headerBytes'))) this.metrics.inc('link_header_bytes_total', lbl, d);
    if ((d = n('framesReceived'))) this.metrics.inc('link_frames_received_total', lbl, d);
    if ((d = n('bytesReceived'))) this.metrics.inc('link_bytes_received_total', lbl, d);
    if ((d = n('retransmits'))) this.metrics.inc('link_retransmits_total', lbl, d);
    if ((d = n('duplicates'))) this.metrics.inc('link_duplicates_total', lbl, d);
    if ((d = n('downs'))) this.metrics.inc('link_down_total', lbl, d);
    if ((d = n('backoffResets'))) this.metrics.inc('link_backoff_resets_total', lbl, d);
    if ((d = n('outages'))) this.metrics.inc('link_outages_total', lbl, d);
    if ((d = n('outageProbes'))) this.metrics.inc('link_probes_total', lbl, d);
    if ((d = n('outageBytes'))) this.metrics.inc('link_probe_bytes_total', lbl, d);
    if ((d = n('silencePings'))) this.metrics.inc('link_silence_pings_total', lbl, d);
    for (const [reason, k] of grewBy(c.framesDroppedBy, l?.framesDroppedBy)) this.metrics.inc('link_frames_dropped_total', { ...lbl, reason }, k);
    for (const [reason, k] of grewBy(c.messagesDropped, l?.messagesDropped)) this.metrics.inc('link_messages_dropped_total', { ...lbl, reason }, k);
    for (const [reason, k] of grewBy(c.streamResets, l?.streamResets)) this.metrics.inc('link_stream_resets_total', { ...lbl, reason }, k);
    this.last = copyCounters(c);
  }

  /** The endpoint behind the counters is about to be replaced: take its last counts and start afresh. */
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

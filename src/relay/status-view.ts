/**
 * What the status page shows of a relay: every SAMPLE_INTERVAL_MS each
 * link's state, RTT, queue, spool and byte and retransmit counters go into a
 * one-hour ring (obs/history.ts), and new link or delivery errors into a
 * short list; page() renders obs/status-page.ts from them and the status.
 */
import { LinkHistory, RecentErrors, SAMPLE_INTERVAL_MS, renderStatusPage } from '../obs/index.ts';
import type { Metrics } from '../obs/metrics.ts';
import { packageVersion } from '../obs/version.ts';
import type { RelayStatus } from './relay.ts';

export class StatusView {
  readonly history = new LinkHistory();
  readonly errors = new RecentErrors();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly status: () => RelayStatus,
    private readonly metrics: Metrics,
    private readonly version?: string,
  ) {}

  /** Samples now and then every SAMPLE_INTERVAL_MS until stop(). */
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One sample of every link (the timer calls it; tests call it to get samples without waiting). */
  sample(now = Date.now()): void {
    const st = this.status();
    this.noteErrors(st, now);
    this.history.record(
      now,
      st.links.map((l) => ({
        name: l.name,
        up: l.up,
        rttMs: l.rttMs,
        queued: l.queued,
        spooled: l.spooled,
        bytesSent: this.metrics.get('link_bytes_sent_total', { link: l.name }),
        bytesReceived: this.metrics.get('link_bytes_received_total', { link: l.name }),
        retransmits: this.metrics.get('link_retransmits_total', { link: l.name }),
      })),
    );
  }

  page(now = Date.now()): string {
    const st = this.status();
    this.noteErrors(st, now);
    return renderStatusPage({ ...st, version: this.version ?? packageVersion(), errors: this.errors.all() }, (name) => this.history.samples(name), now);
  }

  private noteErrors(st: RelayStatus, now: number): void {
    for (const l of st.links) this.errors.note(new Date(now), `link ${l.name}`, l.lastError);
    this.errors.note(new Date(now), 'local delivery', st.lastError);
  }
}

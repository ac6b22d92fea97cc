/**
 * A log line for an event that can come in floods (refused connections,
 * requests over a limit): at most one line per interval, saying how many
 * happened since the previous one, plus a last line once the flood is over.
 */
import type { Logger } from './log.ts';

export class RateLimitedLog {
  private count = 0;
  private last = -Infinity;
  private latest: Record<string, unknown> = {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    private readonly msg: string,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** One event; `fields` describe the latest one. */
  hit(fields: Record<string, unknown>): void {
    this.count++;
    this.latest = fields;
    if (this.now() - this.last >= this.everyMs) return this.flush();
    this.timer ??= setTimeout(() => this.flush(), Math.max(0, this.last + this.everyMs - this.now())).unref();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.count === 0) return;
    this.log.warn({ ...this.latest, events: this.count, interval_s: this.everyMs / 1000 }, this.msg);
    this.count = 0;
    this.last = this.now();
  }

  /** Stops the pending last line (at shutdown). */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * A dialling link end that cannot reach its partner says so: a warning at the
 * first failed attempt, then at most one a minute with the count since the
 * last, and its status carries the error and since when it has been failing.
 * (Two ends that both dial, or a partner that is not running, otherwise
 * leave a link down forever with nothing but debug lines.)
 */
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';

/** A connection failure in progress, for status. */
export interface ConnectFailure {
  lastError: string;
  /** Epoch ms of the first failed attempt since the link last connected. */
  since: number;
  attempts: number;
}

/** The part of a link's status about failing to connect. */
export interface FailureFields {
  lastError?: string;
  /** ISO time of the first failed attempt since the link last connected. */
  failingSince?: string;
  failingForS?: number;
  connectFailures?: number;
}

const HINT = 'link cannot connect to its partner: is the partner relay running and listening there? Of the two ends of a tcp or xep0361 link exactly one sets peer (it dials); the other sets only bind (it listens)';

export class ConnectWatch {
  private failure?: ConnectFailure;
  private lastWarnAt = -Infinity;
  private sinceWarn = 0;
  private readonly now: () => number;

  constructor(
    private readonly o: { target: string; log: Logger; metrics: Metrics; labels: Record<string, string>; now?: () => number; warnEveryMs?: number },
  ) {
    this.now = o.now ?? Date.now;
  }

  failed(err: string): void {
    const now = this.now();
    const f = (this.failure ??= { lastError: '', since: now, attempts: 0 });
    f.attempts++;
    f.lastError = `cannot connect to ${this.o.target}: ${err}`;
    this.sinceWarn++;
    this.o.metrics.inc('link_connect_failures_total', this.o.labels);
    if (now - this.lastWarnAt < (this.o.warnEveryMs ?? 60_000)) return;
    this.o.log.warn({ ...this.o.labels, peer: this.o.target, err, attempts: this.sinceWarn, failingForS: Math.round((now - f.since) / 1000) }, HINT);
    this.lastWarnAt = now;
    this.sinceWarn = 0;
  }

  connected(): void {
    const f = this.failure;
    if (!f) return;
    this.o.log.info({ ...this.o.labels, peer: this.o.target, attempts: f.attempts, failedForS: Math.round((this.now() - f.since) / 1000) }, 'link connected to its partner after failed attempts');
    this.failure = undefined;
    this.lastWarnAt = -Infinity;
    this.sinceWarn = 0;
  }

  get state(): ConnectFailure | undefined {
    return this.failure;
  }
}

/** Status fields: a connection failure in progress wins over the link's own last error. */
export function failureFields(lastError: string | undefined, failure: ConnectFailure | undefined, now = Date.now()): FailureFields {
  if (!failure) return { lastError };
  return {
    lastError: failure.lastError,
    failingSince: new Date(failure.since).toISOString(),
    failingForS: Math.max(0, Math.round((now - failure.since) / 1000)),
    connectFailures: failure.attempts,
  };
}

import type { LinkEndpointLike } from '../../../src/link/drivers/index.ts';

/**
 * Stand-in for LinkEndpoint: transmits what the test queues, records what
 * arrives, and keeps one deadline. Lets driver tests exercise the transport
 * and the timer loop without the protocol core.
 */
export class StandInEndpoint implements LinkEndpointLike {
  readonly outbox: Buffer[] = [];
  readonly received: Buffer[] = [];
  readonly timeouts: number[] = [];
  readonly polledAt: number[] = [];
  deadline: number | undefined;
  private waiters: Array<{ n: number; resolve: () => void }> = [];

  handleFrame(_now: number, frame: Buffer): void {
    this.received.push(frame);
    this.waiters = this.waiters.filter((w) => (this.received.length >= w.n ? (w.resolve(), false) : true));
  }
  handleTimeout(now: number): void {
    this.timeouts.push(now);
    this.deadline = undefined;
  }
  pollTransmit(now: number): Buffer | undefined {
    const f = this.outbox.shift();
    if (f) this.polledAt.push(now);
    return f;
  }
  pollTimeout(): number | undefined {
    return this.deadline;
  }
  /** Resolves once `n` frames have arrived in total; rejects after `ms`. */
  waitFor(n: number, ms = 5000): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${this.received.length}/${n} frames`)), ms);
      this.waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }
}

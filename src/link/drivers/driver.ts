/**
 * Shared driver loop: owns the one timer and drives a sans-IO link endpoint
 * (quinn style: handleFrame(now, frame) / handleTimeout(now) in,
 * pollTransmit(now) / pollTimeout() out).
 *
 * Clock: the owner's (time/): now() in monotonic milliseconds (float), the
 * unit of the core's pollTimeout() deadlines, and its timer. Default: a
 * SystemClock of the driver's own.
 */
import { isIP } from 'node:net';
import { SystemClock, type Cancel, type Clock } from '../../time/index.ts';
import { Metrics } from '../../obs/metrics.ts';
import { silentLogger, type Logger } from '../../obs/log.ts';
import type { ConnectFailure } from './connect-watch.ts';
import { readHostPort, type HostPort } from '../../config/hostport.ts';

/** The part of LinkEndpoint (src/link/core) a driver uses. */
export interface LinkEndpointLike {
  /**
   * false: the frame was dropped and changed nothing; true: it passed
   * authentication, replay and session checks (its source is the partner);
   * 'poll' (or nothing): the driver drains what is due.
   */
  handleFrame(now: number, frame: Buffer): boolean | 'poll' | void;
  handleTimeout(now: number): void;
  pollTransmit(now: number): Buffer | undefined;
  pollTimeout(): number | undefined;
}

export interface DriverHooks {
  /** Called after every handleFrame/handleTimeout: the owner drains pollEvent(). */
  onEvents(): void;
  /** Optional: frames went out (the owner may hand the endpoint more to send). */
  onSent?(): void;
  /** Optional: the transport came up or went down (TCP connection, serial port open). */
  onTransport?(up: boolean): void;
}

export interface LinkDriver {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Call after submit()/confirmDelivered() on the endpoint: drains pollTransmit, re-arms the timer. */
  poke(): void;
  /** A dialling transport failing to reach its partner: since when, how often. */
  failing?(): ConnectFailure | undefined;
}

export interface DriverBaseOptions {
  /** Link name for logs and metric labels. */
  name?: string;
  /** The owner's clock (shared with the core's other inputs); default a SystemClock. */
  clock?: Clock;
  metrics?: Metrics;
  logger?: Logger;
}

export type DriverErrorCode = 'DRIVER_BAD_ADDRESS' | 'DRIVER_BAD_OPTIONS' | 'DRIVER_CLOSED' | 'DRIVER_START_FAILED' | 'DRIVER_FRAME_TOO_LARGE';

export class DriverError extends Error {
  constructor(readonly code: DriverErrorCode, message: string) {
    super(message);
    this.name = 'DriverError';
  }
}

export type { HostPort };

/** Parses "1.2.3.4:5299", "[::1]:5299" or "host:5299" with config/hostport.ts; DriverError DRIVER_BAD_ADDRESS when it is not one. */
export function parseHostPort(s: string | HostPort): HostPort {
  return readHostPort(s, (message) => new DriverError('DRIVER_BAD_ADDRESS', message));
}

export function familyOf(host: string): 'udp4' | 'udp6' {
  return isIP(host) === 6 ? 'udp6' : 'udp4';
}

/** Frames sent per drain before yielding to the event loop. */
const DRAIN_BATCH = 256;

export abstract class DriverBase implements LinkDriver {
  protected readonly clock: Clock;
  protected readonly now: () => number;
  protected readonly metrics: Metrics;
  protected readonly log: Logger;
  protected readonly labels: { link: string };
  protected closed = false;
  private timer: Cancel | undefined;
  private timerAt = Infinity;
  private immediate: NodeJS.Immediate | undefined;
  private inOnEvents = false;
  private inOnSent = false;

  constructor(
    protected readonly endpoint: LinkEndpointLike,
    base: DriverBaseOptions,
    protected readonly hooks: DriverHooks,
  ) {
    this.clock = base.clock ?? new SystemClock();
    this.now = () => this.clock.now();
    this.metrics = base.metrics ?? new Metrics();
    this.log = base.logger ?? silentLogger;
    this.labels = { link: base.name ?? '' };
  }

  abstract start(): Promise<void>;
  abstract close(): Promise<void>;

  /** Whether the transport can take a frame now (connected, not over its pacing budget). */
  protected abstract canSend(now: number): boolean;
  /** Puts one frame on the transport. */
  protected abstract send(frame: Buffer, now: number): void;
  /** When canSend() may turn true again by itself (pacing); undefined if only an event can. */
  protected sendWakeAt(_now: number): number | undefined {
    return undefined;
  }

  /** When no address to send to is known yet (a roaming end before the partner's first frame): the timer waits for input. */
  protected waitsForAddress(): boolean {
    return false;
  }

  /**
   * A frame arrived from the transport. `verdict` learns whether the endpoint
   * took it (true: authentic, in the replay window, of the current session)
   * before anything is sent in answer.
   */
  protected input(frame: Buffer, verdict?: (taken: boolean) => void): void {
    if (this.closed) return;
    this.metrics.inc('link_driver_frames_rx_total', this.labels);
    this.metrics.inc('link_driver_bytes_rx_total', this.labels, frame.length);
    try {
      const r = this.endpoint.handleFrame(this.now(), frame);
      verdict?.(r === true);
      if (r === false) return; // dropped (forged, replayed): nothing to do
    } catch (err) {
      // A core must not throw on bad input; if it does, count and keep running.
      this.metrics.inc('link_driver_errors_total', { ...this.labels, op: 'handleFrame' });
      this.log.error({ err, link: this.labels.link }, 'endpoint.handleFrame threw');
    }
    this.pump();
  }

  poke(): void {
    if (this.closed || this.inOnEvents) return; // pump() drains again after onEvents
    this.drain();
    this.arm();
  }

  /** drain, let the owner read events (it may submit more), drain again, re-arm. */
  protected pump(): void {
    if (this.closed) return;
    this.drain();
    this.inOnEvents = true;
    this.callHook('onEvents');
    this.inOnEvents = false;
    this.drain();
    this.arm();
  }

  private drain(): void {
    let n = 0;
    const now = this.now();
    while (!this.closed && this.canSend(now)) {
      if (n >= DRAIN_BATCH) {
        this.immediate ??= setImmediate(() => {
          this.immediate = undefined;
          this.poke();
        });
        break;
      }
      const frame = this.endpoint.pollTransmit(now);
      if (!frame) break;
      n++;
      this.metrics.inc('link_driver_frames_tx_total', this.labels);
      this.metrics.inc('link_driver_bytes_tx_total', this.labels, frame.length);
      this.send(frame, now);
    }
    if (n > 0 && this.hooks.onSent && !this.inOnSent) {
      this.inOnSent = true;
      this.callHook('onSent');
      this.inOnSent = false;
    }
  }

  /** Runs an owner's hook; a throw is counted and logged, never propagated into the driver. */
  private callHook(op: 'onEvents' | 'onSent'): void {
    try {
      this.hooks[op]?.();
    } catch (err) {
      this.metrics.inc('link_driver_errors_total', { ...this.labels, op });
      this.log.error({ err, link: this.labels.link }, `${op} hook threw`);
    }
  }

  /** (Re)arms the single timer for min(core deadline, pacing wake-up). */
  protected arm(): void {
    if (this.closed) return;
    if (this.waitsForAddress()) return this.clearTimer(); // nothing can go out: deadlines wait for the partner's first frame
    const now = this.now();
    const core = this.endpoint.pollTimeout();
    const wake = this.sendWakeAt(now);
    const at = Math.min(core ?? Infinity, wake ?? Infinity);
    // A timer due no later stays: when it fires early, onTimer looks again and re-arms.
    // (Re-arming at each frame made a timer per frame.)
    if (this.timer && this.timerAt <= at && at !== Infinity) return;
    this.clearTimer();
    if (at === Infinity) return;
    this.timerAt = at;
    this.timer = this.clock.schedule(Math.max(0, at - now), () => this.onTimer());
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.now();
    const core = this.endpoint.pollTimeout();
    if (core !== undefined && now >= core) {
      try {
        this.endpoint.handleTimeout(now);
      } catch (err) {
        this.metrics.inc('link_driver_errors_total', { ...this.labels, op: 'handleTimeout' });
        this.log.error({ err, link: this.labels.link }, 'endpoint.handleTimeout threw');
      }
      this.pump();
    } else {
      this.poke(); // pacing wake-up, or the timer fired a hair early
    }
  }

  private clearTimer(): void {
    this.timer?.();
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Stops the timer loop; subclasses close their transport. */
  protected stopLoop(): void {
    this.closed = true;
    this.clearTimer();
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
  }
}

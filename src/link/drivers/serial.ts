/**
 * Serial driver: link frames over a tty or pty (serialport), framed by
 * serial-framing.ts (COBS + CRC-32, 0x00 delimited).
 *
 * Writes are paced to the line rate (10 bit times per byte: 8N1), so at most
 * `maxQueueMs` of data waits in OS/UART buffers beyond the frame on the wire;
 * the rest stays in the endpoint, where priority scheduling still applies.
 */
import { SerialPort } from 'serialport';
import { DriverBase, DriverError, type DriverBaseOptions, type DriverHooks, type LinkEndpointLike } from './driver.ts';
import { SerialFrameDecoder, encodeSerialFrame } from './serial-framing.ts';

export interface SerialDriverOptions extends DriverBaseOptions {
  /** Device path: /dev/ttyUSB0, or a pty (socat link). */
  device: string;
  baud: number;
  /** Largest link frame (default 2048); longer runs on the line are dropped. */
  maxFrame?: number;
  /** How far ahead of the line we may write, ms (default 50). */
  maxQueueMs?: number;
}

export class SerialLinkDriver extends DriverBase {
  private port: SerialPort | undefined;
  private readonly decoder: SerialFrameDecoder;
  private readonly msPerByte: number;
  private readonly maxQueueMs: number;
  /** Clock time at which everything written so far has left the line. */
  private lineFreeAt = -Infinity;
  private blocked = false;

  constructor(endpoint: LinkEndpointLike, private readonly opts: SerialDriverOptions, hooks: DriverHooks) {
    super(endpoint, opts, hooks);
    if (!(opts.baud > 0)) throw new DriverError('DRIVER_BAD_OPTIONS', `bad baud rate ${opts.baud}`);
    this.msPerByte = 10_000 / opts.baud;
    this.maxQueueMs = opts.maxQueueMs ?? 50;
    this.decoder = new SerialFrameDecoder({ maxPayload: opts.maxFrame ?? 2048, metrics: this.metrics, link: this.labels.link });
  }

  async start(): Promise<void> {
    if (this.closed) throw new DriverError('DRIVER_CLOSED', 'driver closed');
    const port = new SerialPort({ path: this.opts.device, baudRate: this.opts.baud, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((err) => (err ? rej(err) : res()))).catch((err: Error) => {
      throw new DriverError('DRIVER_START_FAILED', `serial open ${this.opts.device}: ${err.message}`);
    });
    this.port = port;
    port.on('data', (chunk: Buffer) => {
      for (const f of this.decoder.push(chunk)) this.input(f);
    });
    port.on('error', (err) => {
      this.metrics.inc('link_driver_errors_total', { ...this.labels, op: 'serial' });
      this.log.warn({ err, link: this.labels.link }, 'serial port error');
    });
    port.on('close', () => {
      if (this.port === port && !this.closed) {
        this.port = undefined;
        this.log.warn({ link: this.labels.link }, 'serial port closed');
        this.hooks.onTransport?.(false);
      }
    });
    this.hooks.onTransport?.(true);
    this.poke();
  }

  /** Decoder counters (frames, drops by reason). */
  get rxStats() {
    return this.decoder.stats;
  }

  protected canSend(now: number): boolean {
    const ok = this.port !== undefined && this.lineFreeAt - now <= this.maxQueueMs;
    this.blocked = !ok && this.port !== undefined;
    return ok;
  }

  protected override sendWakeAt(): number | undefined {
    return this.blocked ? this.lineFreeAt - this.maxQueueMs : undefined;
  }

  protected send(frame: Buffer, now: number): void {
    const idle = this.lineFreeAt <= now;
    const bytes = encodeSerialFrame(frame, { leadingDelimiter: idle });
    this.lineFreeAt = Math.max(this.lineFreeAt, now) + bytes.length * this.msPerByte;
    this.port!.write(bytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.stopLoop();
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((res) => port.close(() => res()));
    if (port) this.hooks.onTransport?.(false);
  }
}

/**
 * PTY emulator: two serial devices joined through the engine. One socat per
 * side (`socat pty,raw,echo=0,link=DEV STDIO`): bytes written on device A come
 * out of socat A's stdout, cross the engine as a stream ('ab') and go into
 * socat B's stdin, to be read on device B; and vice versa. We keep a file
 * descriptor on each slave open so the pty survives its users closing and
 * reopening it (the last close would end socat's read with EIO).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../obs/log.ts';
import { Metrics } from '../../obs/metrics.ts';
import { EmulatorError } from '../errors.ts';
import type { Direction } from '../engine.ts';
import { RealtimeRunner, type DriverOptions, type EmulatorHandle } from './runner.ts';

export interface PtyEmulatorOptions extends DriverOptions {
  /** Folder for the device links (default: a new temp folder, removed on close). */
  dir?: string;
  /** socat binary (default "socat" on PATH). */
  socat?: string;
}

export interface PtyEmulatorHandle extends EmulatorHandle {
  /** Paths (symlinks to /dev/pts/N) to open as serial devices. */
  readonly deviceA: string;
  readonly deviceB: string;
}

const OVERRUN_BYTES = 1 << 20;

interface Side {
  proc: ChildProcessWithoutNullStreams;
  holdFd: number;
  device: string;
}

export async function startPtyEmulator(opts: PtyEmulatorOptions): Promise<PtyEmulatorHandle> {
  const logger = opts.logger ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'satrelay-pty-'));
  const sides: Partial<Record<'a' | 'b', Side>> = {};
  let closing = false;

  const cleanup = async (): Promise<void> => {
    closing = true;
    await Promise.all(Object.values(sides).map((s) => stopSide(s)));
    if (ownDir) fs.rmSync(dir, { recursive: true, force: true });
  };

  let runner: RealtimeRunner;
  try {
    runner = new RealtimeRunner({ ...opts, metrics }, (d) => {
      const to = d.dir === 'ab' ? sides.b : sides.a;
      // Nobody reading the far device: past OVERRUN_BYTES buffered, bytes are lost as on a real UART.
      if (to && to.proc.stdin.writableLength > OVERRUN_BYTES) {
        metrics.inc('emulator_pty_overrun_bytes_total', { dir: d.dir }, d.data.length);
        logger.debug({ dir: d.dir, bytes: d.data.length }, 'emulator: pty overrun, bytes dropped');
      } else to?.proc.stdin.write(d.data);
      resumeIfDrained();
    });
    sides.a = await startSide(opts.socat ?? 'socat', path.join(dir, 'ttyA'));
    sides.b = await startSide(opts.socat ?? 'socat', path.join(dir, 'ttyB'));
  } catch (err) {
    await cleanup();
    throw err;
  }

  const pausedDirs = new Set<Direction>();
  const resumeIfDrained = (): void => {
    for (const dir of pausedDirs) {
      if (runner.engine.queuedBytes(dir) <= runner.engine.queueLimit / 2) {
        pausedDirs.delete(dir);
        (dir === 'ab' ? sides.a : sides.b)?.proc.stdout.resume();
      }
    }
  };
  const wire = (side: Side, dir: Direction, name: string): void => {
    side.proc.stdout.on('data', (chunk: Buffer) => {
      runner.send(dir, chunk, 'stream');
      if (runner.engine.queuedBytes(dir) > runner.engine.queueLimit) {
        side.proc.stdout.pause();
        pausedDirs.add(dir);
      }
    });
    side.proc.stdin.on('error', (err) => logger.debug({ err, side: name }, 'emulator: socat stdin error'));
    side.proc.on('exit', (code, signal) => {
      if (closing) return;
      metrics.inc('emulator_socat_exits_total', { side: name });
      logger.error({ code, signal, side: name }, 'emulator: socat exited');
    });
  };
  wire(sides.a!, 'ab', 'a');
  wire(sides.b!, 'ba', 'b');

  let closed: Promise<void> | undefined;
  return {
    deviceA: sides.a!.device,
    deviceB: sides.b!.device,
    stats: () => runner.stats(),
    summary: () => runner.summary(),
    close: () =>
      (closed ??= (async () => {
        runner.close();
        await cleanup();
      })()),
  };
}

/** Starts one socat and waits until its pty link exists. */
async function startSide(bin: string, device: string): Promise<Side> {
  const proc = spawn(bin, ['-d', '-d', `pty,raw,echo=0,link=${device}`, 'STDIO'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string): void => {
      clearInterval(poll);
      proc.kill('SIGKILL');
      reject(new EmulatorError('EMU_SOCAT', `${bin}: ${why}${stderr ? `\n${stderr.trim()}` : ''}`));
    };
    proc.once('error', (err) => fail((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found (apt-get install socat)' : err.message));
    proc.once('exit', (code) => fail(`exited with ${code} before creating ${device}`));
    const started = Date.now();
    const poll = setInterval(() => {
      if (/PTY is /.test(stderr) && fs.existsSync(device)) {
        clearInterval(poll);
        proc.removeAllListeners('exit');
        proc.removeAllListeners('error');
        resolve();
      } else if (Date.now() - started > 5000) fail(`no pty after 5 s`);
    }, 10);
  });
  const holdFd = fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
  return { proc, holdFd, device };
}

async function stopSide(s: Side): Promise<void> {
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    const exited = new Promise<void>((r) => s.proc.once('exit', () => r()));
    s.proc.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGKILL');
  }
  try {
    fs.closeSync(s.holdFd);
  } catch {
    // already closed
  }
}

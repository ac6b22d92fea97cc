/** pino logger: one JSON line per event; pretty only on a terminal. */
import { openSync, writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; pretty?: boolean; destination?: number | string } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !process.env.SATRELAY_LOG_JSON);
  const level = opts.level ?? process.env.SATRELAY_LOG_LEVEL ?? 'info';
  if (pretty) {
    // Formatted in this thread: pino's worker-thread transport kept the process
    // alive for 0.3-2 s after the relay stopped while the worker wound down.
    const format = prettyFactory({ colorize: true });
    const dest = opts.destination ?? 1;
    const std = dest === 1 ? process.stdout : dest === 2 ? process.stderr : undefined; // synchronous on a terminal
    const fd = std || typeof dest !== 'string' ? dest : openSync(dest, 'a');
    return pino({ level, name: opts.name }, { write: (line: string) => void (std ? std.write(format(line)) : writeSync(fd as number, format(line))) });
  }
  return pino({ level, name: opts.name }, pino.destination({ dest: opts.destination ?? 1, sync: false }));
}

/** A logger that writes nothing (tests, embedded use). */
export const silentLogger: Logger = pino({ level: 'silent' });

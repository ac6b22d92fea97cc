/** pino logger: one JSON line per event; pretty only on a terminal. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; pretty?: boolean; destination?: number | string } = {}): Logger {
  const pretty = opts.pretty ?? (process.stdout.isTTY === true && !process.env.SATRELAY_LOG_JSON);
  const level = opts.level ?? process.env.SATRELAY_LOG_LEVEL ?? 'info';
  if (pretty) {
    return pino({ level, name: opts.name, transport: { target: 'pino-pretty', options: { colorize: true, destination: opts.destination ?? 1 } } });
  }
  return pino({ level, name: opts.name }, pino.destination({ dest: opts.destination ?? 1, sync: false }));
}

/** A logger that writes nothing (tests, embedded use). */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * The day's spend on disk: data_dir/link-state/<link>.metered.json
 *
 *   {"format":1,"day":"2026-12-03","bytes":{"bgan-64k":1834212}}
 *
 * Written whole to a temporary file, flushed, then renamed over the old one,
 * so a crash leaves either the old or the new record, never half of one. A
 * file that does not parse is moved aside (the day's count then starts at 0,
 * logged).
 */
import { readFileSync, renameSync } from 'node:fs';
import { writeFileDurably } from '../../spool/index.ts';
import type { Logger } from '../../obs/log.ts';
import type { MeterSpend } from './meter.ts';

export function readSpend(file: string, log: Logger, nowMs: number): MeterSpend | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    log.error({ file, err: (err as Error).message }, 'cannot read the metered bearer\'s spend of the day: counting from 0');
    return undefined;
  }
  const v = parse(text);
  if (!v) {
    const aside = `${file}.corrupt-${nowMs}`;
    try {
      renameSync(file, aside);
    } catch {
      // left in place: the next write replaces it
    }
    log.error({ file, movedTo: aside }, 'the metered bearer\'s spend file is damaged: moved aside; today\'s count starts at 0');
  }
  return v;
}

export function writeSpend(file: string, spend: MeterSpend): void {
  writeFileDurably(file, JSON.stringify({ format: 1, ...spend }) + '\n');
}

function parse(text: string): MeterSpend | undefined {
  try {
    const v = JSON.parse(text) as { format?: unknown; day?: unknown; bytes?: unknown };
    if (v.format !== 1 || typeof v.day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(v.day) || v.bytes === null || typeof v.bytes !== 'object') return undefined;
    const bytes = Object.entries(v.bytes as Record<string, unknown>);
    if (!bytes.every(([, n]) => typeof n === 'number' && Number.isFinite(n) && n >= 0)) return undefined;
    return { day: v.day, bytes: Object.fromEntries(bytes) as Record<string, number> };
  } catch {
    return undefined;
  }
}

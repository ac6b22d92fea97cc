/**
 * A small state file written so a crash leaves either the old or the new
 * text, never half: written whole to FILE.tmp (mode 0600), flushed, renamed
 * over FILE, and the directory flushed so the rename itself is on disk.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(tmp, text, { mode: 0o600 });
  flush(tmp);
  renameSync(tmp, file);
  flush(dirname(file));
}

function flush(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

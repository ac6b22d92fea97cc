/**
 * Pre-shared link key files. Format (text, UTF-8):
 *
 *   # satrelay link key, id 3f2a9c01d4e5b6a7, made 2026-11-23T16:00:00.000Z
 *   satrelay-psk-v1:<base64 of 32 random bytes>
 *
 * Lines starting with '#' and blank lines are ignored; exactly one key line.
 * The key id is the first 16 hex digits of SHA-256("satrelay-key-id\0" || key):
 * both ends log it, so an operator can compare them without showing the key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

export const KEY_PREFIX = 'satrelay-psk-v1:';
export const KEY_BYTES = 32;

export type KeyFileErrorCode = 'KEYFILE_MISSING' | 'KEYFILE_UNREADABLE' | 'KEYFILE_BAD_FORMAT' | 'KEYFILE_BAD_LENGTH';

export class KeyFileError extends Error {
  constructor(
    readonly code: KeyFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'KeyFileError';
  }
}

/** Short key id both ends can log and compare (16 hex digits). */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('satrelay-key-id\0').update(key).digest('hex').slice(0, 16);
}

/** The text of a new key file (what `satrelay keygen` prints). */
export function generateKeyText(now: Date = new Date()): string {
  const key = randomBytes(KEY_BYTES);
  return `# satrelay link key, id ${keyId(key)}, made ${now.toISOString()}; give the same file to both relays, keep it private (chmod 600)\n${KEY_PREFIX}${key.toString('base64')}\n`;
}

/** Parses key file text. Throws KeyFileError (bad format or length). */
export function parseKeyText(text: string, file = 'key_file'): { key: Buffer; id: string } {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new KeyFileError('KEYFILE_BAD_FORMAT', file, `no key line; expected "${KEY_PREFIX}<base64>" (make one with "satrelay keygen")`);
  if (lines.length > 1) throw new KeyFileError('KEYFILE_BAD_FORMAT', file, `expected exactly one key line, found ${lines.length}`);
  const line = lines[0];
  if (!line.startsWith(KEY_PREFIX)) {
    throw new KeyFileError('KEYFILE_BAD_FORMAT', file, `expected a line starting with "${KEY_PREFIX}" (make one with "satrelay keygen")`);
  }
  const b64 = line.slice(KEY_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new KeyFileError('KEYFILE_BAD_FORMAT', file, 'the key is not valid base64');
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new KeyFileError('KEYFILE_BAD_LENGTH', file, `expected a ${KEY_BYTES}-byte key, got ${key.length} bytes`);
  }
  return { key, id: keyId(key) };
}

/** The comment line that marks a key published with satrelay (examples/keys): anyone has it. */
export const EXAMPLE_KEY_MARK = '# satrelay example key';

/**
 * Reads a key file. Throws KeyFileError when missing, unreadable or malformed.
 * `warnings` says when others (not only the owner's group) can read the file;
 * a group-readable key (0640, group satrelay) is fine. An example key (its
 * EXAMPLE_KEY_MARK line) gets a "note: " instead: its mode does not matter,
 * since the key itself is public.
 */
export function readKeyFile(path: string): { key: Buffer; id: string; warnings: string[] } {
  let text: string;
  let mode = 0;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new KeyFileError('KEYFILE_UNREADABLE', path, 'not a regular file; expected a key file (make one with "satrelay keygen")');
    mode = st.mode & 0o777;
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new KeyFileError('KEYFILE_MISSING', path, 'key file not found (make one with "satrelay keygen")');
    throw new KeyFileError('KEYFILE_UNREADABLE', path, `cannot read key file: ${e.code ?? e.message}`);
  }
  const parsed = parseKeyText(text, path);
  const warnings: string[] = [];
  if (text.split(/\r?\n/).some((l) => l.trim().startsWith(EXAMPLE_KEY_MARK))) {
    warnings.push(`note: ${path}: an example key published with satrelay, for trying it out only; make your own with "satrelay keygen -o FILE"`);
  } else if (process.platform !== 'win32' && (mode & 0o007) !== 0) {
    warnings.push(`${path}: key file is open to everyone (mode ${mode.toString(8).padStart(3, '0')}); run chmod 600 on it`);
  }
  return { ...parsed, warnings };
}

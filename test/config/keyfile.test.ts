import test from 'ava';
import { createHash } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_PREFIX, KeyFileError, generateKeyText, keyId, parseKeyText, readKeyFile } from '../../src/config/index.ts';
import { tempDir } from './helpers.ts';

test('generated key text reads back: 32 bytes, id in the comment matches', (t) => {
  const dir = tempDir(t);
  const text = generateKeyText();
  const lines = text.trimEnd().split('\n');
  t.is(lines.length, 2);
  t.regex(lines[0], /^# /);
  t.true(lines[1].startsWith(KEY_PREFIX));
  const file = join(dir, 'link.key');
  writeFileSync(file, text, { mode: 0o600 });
  const k = readKeyFile(file);
  t.is(k.key.length, 32);
  t.deepEqual(k.key, Buffer.from(lines[1].slice(KEY_PREFIX.length), 'base64'));
  t.regex(k.id, /^[0-9a-f]{16}$/);
  t.true(lines[0].includes(k.id));
  t.deepEqual(k.warnings, []);
});

test('two generated keys differ, and so do their ids', (t) => {
  const a = parseKeyText(generateKeyText());
  const b = parseKeyText(generateKeyText());
  t.notDeepEqual(a.key, b.key);
  t.not(a.id, b.id);
  t.is(keyId(a.key), a.id);
});

test('key id is SHA-256 based and stable for a given key', (t) => {
  const key = Buffer.alloc(32, 7);
  const expected = createHash('sha256').update('satrelay-key-id\0').update(key).digest('hex').slice(0, 16);
  t.is(keyId(key), expected);
  t.is(parseKeyText(`${KEY_PREFIX}${key.toString('base64')}\n`).id, expected);
});

test('readKeyFile errors have stable codes', (t) => {
  const dir = tempDir(t);
  const code = (fn: () => unknown) => t.throws(fn, { instanceOf: KeyFileError })?.code;
  t.is(code(() => readKeyFile(join(dir, 'none.key'))), 'KEYFILE_MISSING');
  t.is(code(() => readKeyFile(dir)), 'KEYFILE_UNREADABLE');
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  t.is(code(() => readKeyFile(write('empty.key', '# only a comment\n\n'))), 'KEYFILE_BAD_FORMAT');
  t.is(code(() => readKeyFile(write('prefix.key', 'psk:' + Buffer.alloc(32).toString('base64')))), 'KEYFILE_BAD_FORMAT');
  t.is(code(() => readKeyFile(write('b64.key', `${KEY_PREFIX}not base64!!`))), 'KEYFILE_BAD_FORMAT');
  t.is(code(() => readKeyFile(write('two.key', `${KEY_PREFIX}${Buffer.alloc(32).toString('base64')}\n${KEY_PREFIX}${Buffer.alloc(32).toString('base64')}\n`))), 'KEYFILE_BAD_FORMAT');
  const short = t.throws(() => readKeyFile(write('short.key', `${KEY_PREFIX}${Buffer.alloc(16).toString('base64')}`)), { instanceOf: KeyFileError });
  t.is(short?.code, 'KEYFILE_BAD_LENGTH');
  t.regex(short?.message ?? '', /short\.key: expected a 32-byte key, got 16 bytes/);
});

test('a key file open to others is read, with a warning', (t) => {
  if (process.platform === 'win32') return t.pass();
  const dir = tempDir(t);
  const p = join(dir, 'open.key');
  writeFileSync(p, generateKeyText());
  chmodSync(p, 0o644);
  const k = readKeyFile(p);
  t.is(k.key.length, 32);
  t.is(k.warnings.length, 1);
  t.regex(k.warnings[0], /open to everyone \(mode 644\)/);
  // Group-readable (0640, group satrelay) is a normal way to share it with the relay's group.
  chmodSync(p, 0o640);
  t.deepEqual(readKeyFile(p).warnings, []);
});

test('an example key gets a note, not a mode warning, whatever its mode (git keeps no 600)', (t) => {
  const dir = tempDir(t);
  for (const f of ['demo.key', 'ship-2.key']) {
    const p = join(dir, f);
    writeFileSync(p, readFileSync(join('examples/keys', f)));
    chmodSync(p, 0o644);
    const k = readKeyFile(p);
    t.is(k.warnings.length, 1, f);
    t.regex(k.warnings[0], /^note: .*an example key published with satrelay.*satrelay keygen -o FILE/);
  }
});

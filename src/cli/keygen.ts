import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { generateKeyText, parseKeyText } from '../config/keyfile.ts';
import { runCommand, UsageError, type CommandSpec } from './args.ts';

export const KEYGEN: CommandSpec = {
  name: 'keygen',
  summary: 'Makes a new pre-shared link key (the text a key_file holds). Give the same file to both ends of the link.',
  usage: '[-o FILE]',
  options: {
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write the key to FILE, created with mode 600 (default: print it on stdout)' },
    force: { type: 'boolean', help: 'with -o: replace FILE if it exists (default: refuse)' },
  },
};

/** `satrelay keygen [-o FILE]`: a new pre-shared link key on stdout, or in FILE with mode 0600. */
export async function keygenCommand(args: string[]): Promise<number> {
  return runCommand(KEYGEN, args, (values) => {
    const text = generateKeyText();
    const file = values.out;
    if (typeof file !== 'string') {
      if (values.force) throw new UsageError('--force goes with -o FILE');
      process.stdout.write(text);
      return 0;
    }
    let fd: number;
    try {
      // Created 0600 from the start (O_EXCL unless --force): the key is never readable by others, whatever the umask.
      fd = openSync(file, values.force ? 'w' : 'wx', 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(e.code === 'EEXIST' ? `satrelay keygen: ${file} exists; not replaced (give --force to replace it)\n` : `satrelay keygen: cannot write ${file}: ${e.code ?? e.message}\n`);
      return 1;
    }
    try {
      fchmodSync(fd, 0o600); // a replaced file keeps its old mode otherwise
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    process.stderr.write(`wrote ${file} (mode 600), key id ${parseKeyText(text).id}; copy the same file to the other end of the link\n`);
    return 0;
  });
}

import { generateKeyText } from '../config/keyfile.ts';

/** `satrelay keygen`: prints a new pre-shared link key, the text a key_file holds. */
export async function keygenCommand(args: string[]): Promise<number> {
  if (args.length > 0) {
    process.stderr.write('usage: satrelay keygen > keys/link.key   (give both ends the same file)\n');
    return 2;
  }
  process.stdout.write(generateKeyText());
  return 0;
}

// Child process for the disk-full test (no test runner listening for
// unhandled rejections, as in a relay): accepts stanzas until the disk is
// full, then more (all refused), hands over / acks what it can, and prints
// one JSON line. Exits 0 unless something crashed it.
import { Spool, SpoolError } from '../../src/spool/index.ts';

const [dir] = process.argv.slice(2);
const spool = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
const body = Buffer.from(`<message id="x">${'y'.repeat(3000)}</message>`);
const accepted: string[] = [];
const refused: Record<string, number> = {};
for (let i = 0; i < 1000; i++) {
  try {
    accepted.push(String(await spool.accept('shore', body, { priority: 'high', acceptedAt: Date.now() })));
  } catch (err) {
    const code = err instanceof SpoolError ? err.code : 'other';
    refused[code] = (refused[code] ?? 0) + 1;
  }
}
// Let any stray rejection surface before reporting.
await new Promise((r) => setTimeout(r, 200));
process.stdout.write(JSON.stringify({ accepted, refused, pending: spool.pending('shore').length }) + '\n');
await spool.close().catch(() => undefined);

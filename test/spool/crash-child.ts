// Child process for the crash test: accepts stanzas with a few commits in
// flight and prints "<id> <n>" once each accept has resolved (durable).
import { Spool } from '../../src/spool/index.ts';

const [dir, countArg] = process.argv.slice(2);
const total = Number(countArg);
const spool = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
let next = 0;
async function worker(): Promise<void> {
  while (next < total) {
    const n = next++;
    const id = await spool.accept('shore', Buffer.from(`<message id="m${n}"/>`), { priority: 'high', acceptedAt: Date.now() });
    process.stdout.write(`${id} ${n}\n`);
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
process.stdout.write('done\n');
await spool.close();

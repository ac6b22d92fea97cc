// Child process for the group-commit crash test: round after round, puts
// `writers` accepts and `writers` receives in one event-loop turn (one commit)
// and prints "a <id> <n>" / "r <id>" as each promise resolves.
import { Spool } from '../../src/spool/index.ts';

const [dir, writersArg, roundsArg] = process.argv.slice(2);
const writers = Number(writersArg);
const spool = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
let n = 0;
let inId = 0n;
for (let r = 0; r < Number(roundsArg); r++) {
  const all: Array<Promise<void>> = [];
  for (let w = 0; w < writers; w++) {
    const k = n++;
    all.push(spool.accept('shore', Buffer.from(`<message id="m${k}"/>`), { priority: 'high', acceptedAt: Date.now() }).then((id) => void process.stdout.write(`a ${id} ${k}\n`)));
    const id = ++inId;
    all.push(spool.receive('shore', id, Buffer.from(`<message id="r${id}"/>`)).then(() => void process.stdout.write(`r ${id}\n`)));
  }
  await Promise.all(all);
}
process.stdout.write('done\n');
await spool.close();

/**
 * The link's deflate implementations side by side (src/link/core/zstream.ts):
 * native zlib (node:zlib's context driven synchronously) against pako, with
 * the link's semantics (one persistent raw context per direction, the preset
 * dictionary, Z_SYNC_FLUSH per message), on chat workload stanzas packed into
 * messages of about a stanza, a 1200-byte frame and a full message.
 * CPU µs per stanza and compressed bytes; each stream is inflated by the
 * other implementation and checked.
 *   npx tsx bench/deflate-impls.ts [--stanzas N] [--level L]
 */
import { parseArgs } from 'node:util';
import { StreamDeflater, StreamInflater, buildDictionary, type ZlibImpl } from '../src/link/core/index.ts';
import { makeWorkload } from '../src/sim/index.ts';
import { pack } from './pack.ts';

const { values } = parseArgs({ options: { stanzas: { type: 'string', default: '20000' }, level: { type: 'string', default: '6' } } });
const n = Number(values.stanzas);
const level = Number(values.level);
const raws = makeWorkload('chat', n, 1).map((s) => s.el.toBuffer());
const dict = buildDictionary(['a.example', 'b.example', 'muc.a.example']);

function cpuPerStanza(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

function run(impl: ZlibImpl, other: ZlibImpl, msgs: Buffer[]): { deflate: number; inflate: number; bytes: number } {
  const d = new StreamDeflater(level, dict, impl);
  let comp: Buffer[] = [];
  const deflate = cpuPerStanza(() => { comp = msgs.map((m) => d.compress(m)); });
  // This implementation inflates the other's stream (checked byte for byte).
  const od = new StreamDeflater(level, dict, other);
  const theirs = msgs.map((m) => od.compress(m));
  const inf = new StreamInflater(dict, impl);
  const inflate = cpuPerStanza(() => {
    theirs.forEach((c, i) => {
      const r = inf.inflate(c, 1 << 20);
      if (!r.ok || !r.data.equals(msgs[i])) throw new Error(`${impl} could not inflate ${other}'s message ${i}`);
    });
  });
  return { deflate, inflate, bytes: comp.reduce((a, b) => a + b.length, 0) / n };
}

process.stdout.write(`deflate implementations, chat workload, ${n} stanzas (${Math.round(raws.reduce((a, b) => a + b.length, 0) / n)} B each), level ${level}; CPU µs and compressed bytes per stanza\n`);
process.stdout.write('  message size      impl     deflate µs  inflate µs  bytes\n');
for (const target of [1, 1200, 9000]) {
  const msgs = pack(raws, target);
  for (let round = 0; round < 2; round++) {
    for (const [impl, other] of [['native', 'pako'], ['pako', 'native']] as const) {
      const r = run(impl, other, msgs);
      // the first round warms the JIT up
      if (round === 1) process.stdout.write(`  ${`~${target} B (${msgs.length})`.padEnd(18)}${impl.padEnd(9)}${r.deflate.toFixed(2).padStart(10)}${r.inflate.toFixed(2).padStart(12)}${r.bytes.toFixed(1).padStart(8)}\n`);
    }
  }
}

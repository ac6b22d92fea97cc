/** Packing stanzas into link messages for the in-process benchmarks (stages.ts, deflate-impls.ts). */

/** Consecutive stanzas packed into messages of about `target` bytes (what the link packs into one frame once compressed). */
export function pack(raws: Buffer[], target: number): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const r of raws) {
    cur.push(r);
    size += r.length;
    if (size >= target) {
      out.push(Buffer.concat(cur));
      cur = [];
      size = 0;
    }
  }
  if (cur.length) out.push(Buffer.concat(cur));
  return out;
}

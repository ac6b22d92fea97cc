/**
 * The packer: queued stanzas -> link messages. Stanzas of one priority class
 * taken together go into one message (back to back, up to about a frame of
 * compressed bytes): one deflate flush and one durable record cover them all,
 * and the receiver acknowledges them with one id. Pure: no clock, no I/O.
 */
import type { LinkTuning } from '../core/index.ts';
import type { TakenStanzas } from '../port.ts';

/** Stanzas packed into one link message at most. */
export const MAX_STANZAS_PER_MESSAGE = 64;

export interface LinkMessage {
  /** Spool ids of the stanzas it carries, ascending. */
  ids: bigint[];
  /** Stanza kinds and how many spooled stanzas each stands for (metrics). */
  kinds: Array<[string, number]>;
  priority: 'high' | 'low';
  stanza: Buffer;
}

/** Messages the core should hold waiting: enough to keep the bearer busy for 100 ms (about a frame each), plus two; at most 64. */
export function coreTarget(tuning: Pick<LinkTuning, 'rateBps' | 'frameBytes' | 'mtu'>): number {
  const rate = tuning.rateBps ?? 64_000;
  const frame = tuning.frameBytes ?? tuning.mtu;
  return Math.min(64, Math.ceil(((rate / 8) * 0.1) / frame) + 2);
}

/** Stanza bytes packed into one message: about one frame once compressed (the ratio achieved so far), within maxStanzaBytes. */
export function messageBytesLimit(frameBytes: number, maxStanzaBytes: number, sent: { compressedBytesOut: number; stanzaBytesOut: number }): number {
  const { compressedBytesOut: comp, stanzaBytesOut: raw } = sent;
  const ratio = comp > 0 && raw > 0 ? Math.min(12, Math.max(2, raw / comp)) : 4;
  return Math.max(1, Math.min(maxStanzaBytes, Math.floor((frameBytes - 40) * ratio)));
}

/**
 * Takes stanzas (take() until it gives none) into at most `room` messages of
 * at most `limit` bytes each; `room` is a target: the stanza that does not fit
 * the last message may start one more. A stanza over the limit goes alone.
 */
export function pack(take: () => TakenStanzas | undefined, room: number, limit: number): LinkMessage[] {
  const msgs: Array<{ ids: bigint[]; kinds: Array<[string, number]>; priority: 'high' | 'low'; parts: Buffer[]; bytes: number }> = [];
  const open = (): boolean => {
    const last = msgs.at(-1);
    return last !== undefined && last.bytes < limit && last.parts.length < MAX_STANZAS_PER_MESSAGE;
  };
  while (msgs.length < room || (open() && msgs.length <= room)) {
    const it = take();
    if (!it) break;
    const bytes = it.el.toBuffer();
    const last = msgs.at(-1);
    if (last && open() && last.priority === it.priority && last.bytes + bytes.length <= limit) {
      last.ids.push(...it.ids);
      last.kinds.push([it.el.local, it.ids.length]);
      last.parts.push(bytes);
      last.bytes += bytes.length;
    } else {
      msgs.push({ ids: [...it.ids], kinds: [[it.el.local, it.ids.length]], priority: it.priority, parts: [bytes], bytes: bytes.length });
    }
  }
  return msgs.map((m) => ({
    ids: m.ids.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
    kinds: m.kinds,
    priority: m.priority,
    stanza: m.parts.length === 1 ? m.parts[0] : Buffer.concat(m.parts),
  }));
}

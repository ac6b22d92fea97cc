/**
 * Child process run once on a spool that is being set aside (check.ts): reads
 * through lmdb, read-only, what it can of the stanzas the spool held and
 * prints, one JSON line each (written at once, so a crash later keeps what was
 * printed), the stanza's head where its checksum holds, so the relay can bounce
 * it. Outbound stanzas of a recorded link message are marked `sent`: they may
 * have reached the partner. usage: node --import tsx salvage-child.ts <dir>
 */
import { open, type Database } from 'lmdb';
import { writeSync } from 'node:fs';
import { headOfMeta, idOf, linkOf, verifyGroup, verifyIn, verifyOut, type StanzaHead } from './records.ts';

export interface SalvageLine {
  store: 'out' | 'in';
  link: string;
  id: string;
  head?: StanzaHead;
  sent?: boolean;
}

const say = (l: SalvageLine): void => void writeSync(1, JSON.stringify(l) + '\n');

function each(db: Database<Buffer, Buffer> | undefined, fn: (key: Buffer, rec: Buffer | undefined) => void): void {
  if (!db) return;
  for (const raw of db.getKeys({}) as Iterable<Buffer>) {
    const key = Buffer.from(raw);
    let rec: Buffer | undefined;
    try {
      rec = db.getBinary(key);
    } catch {
      rec = undefined;
    }
    fn(key, rec);
  }
}

const env = open({ path: process.argv[2], noSubdir: false, readOnly: true, maxDbs: 8 });
const sent = new Set<string>();
each(env.openDB<Buffer, Buffer>('groups', { keyEncoding: 'binary', encoding: 'binary' }), (key, rec) => {
  for (const id of verifyGroup(key, rec).ids ?? []) sent.add(`${linkOf(key)}\0${id}`);
});
each(env.openDB<Buffer, Buffer>('out', { keyEncoding: 'binary', encoding: 'binary' }), (key, rec) => {
  const v = verifyOut(key, rec);
  const link = linkOf(key);
  const id = String(idOf(key));
  say({ store: 'out', link, id, head: headOfMeta(v.meta), sent: sent.has(`${link}\0${id}`) });
});
each(env.openDB<Buffer, Buffer>('in', { keyEncoding: 'binary', encoding: 'binary' }), (key, rec) => {
  const v = verifyIn(key, rec);
  for (const p of v.parts.length ? v.parts : [{ head: undefined }]) say({ store: 'in', link: linkOf(key), id: String(idOf(key)), head: p.head });
});

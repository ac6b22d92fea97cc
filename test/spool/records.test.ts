/**
 * Record keys and checksums are on disk: these vectors were produced by the
 * spool's code as released before per-stanza costs were cut, so a spool
 * written by either reads in the other.
 */
import test from 'ava';
import { keyOf, sealOut, verifyOut } from '../../src/spool/records.ts';

const stanza = Buffer.from('<message to="b@x" id="m1"><body>hi ü</body></message>');
const meta = { priority: 'high' as const, from: 'a@y/r', to: 'b@x', acceptedAt: 1764700000000, kind: 'message', sid: 'm1', type: 'chat', extra: new Uint8Array([1, 2, 255]) };

test('outbound keys and checksums match the released layout', (t) => {
  const key = keyOf('ship-1.example', 12345678901234n);
  t.is(key.toString('hex'), '736869702d312e6578616d706c650000000b3a73ce2ff2');
  const rec = sealOut(key, stanza, meta);
  t.is(rec.c, 2999036164);
  t.is(rec.h, 158261751);
  t.deepEqual(verifyOut(key, rec), { stanza: 'ok', meta });

  const key2 = keyOf('ŝhip', 1n);
  t.is(key2.toString('hex'), 'c59d686970000000000000000001');
  const rec2 = sealOut(key2, Buffer.alloc(0), { priority: 'low', acceptedAt: 0 });
  t.is(rec2.c, 1075505999);
  t.is(rec2.h, 4069570523);
});

test('keys name their link and id; a record moved to another key fails its checksum', (t) => {
  const a = keyOf('ship-1.example', 1n);
  const b = keyOf('ship-1.example', 2n);
  const c = keyOf('ship-2.example', 1n);
  t.is(a.toString('hex'), '736869702d312e6578616d706c65000000000000000001');
  t.is(b.toString('hex'), '736869702d312e6578616d706c65000000000000000002');
  t.is(c.toString('hex'), '736869702d322e6578616d706c65000000000000000001');
  // A record moved to another key fails its checksum.
  t.is(verifyOut(b, sealOut(a, stanza, meta)).stanza, 'damaged');
});

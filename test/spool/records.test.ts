/**
 * Record keys and layouts are on disk. The binary layout (record-layout.ts)
 * is pinned byte for byte; records of the earlier msgpack layout, checksums
 * as released (the vectors below were produced by that code), still read.
 */
import test from 'ava';
import { Packr } from 'msgpackr';
import { DAMAGED, inMetaOf, keyOf, readState, sealGroup, sealIn, sealOut, sealState, verifyGroup, verifyIn, verifyOut } from '../../src/spool/records.ts';

const stanza = Buffer.from('<message to="b@x" id="m1"><body>hi ü</body></message>');
const meta = { priority: 'high' as const, from: 'a@y/r', to: 'b@x', acceptedAt: 1764700000000, kind: 'message', sid: 'm1', type: 'chat', extra: new Uint8Array([1, 2, 255]) };
const key = keyOf('ship-1.example', 12345678901234n);
/** lmdb's msgpack encoder as the spool used it before the binary layout. */
const oldEncoding = new Packr({ copyBuffers: true });

test('keys are utf8(link) 0x00 u64be(id)', (t) => {
  t.is(key.toString('hex'), '736869702d312e6578616d706c650000000b3a73ce2ff2');
  t.is(keyOf('ŝhip', 1n).toString('hex'), 'c59d686970000000000000000001');
  t.is(keyOf('ship-1.example', 2n).toString('hex'), '736869702d312e6578616d706c65000000000000000002');
  t.throws(() => keyOf('x', 1n << 64n), { message: /out of range/ });
});

test('outbound records: layout 1 byte for byte, read back whole', (t) => {
  const rec = sealOut(key, stanza, meta);
  t.is(
    rec.toString('hex'),
    'c1016f' + 'b2c1a904' + 'c94a1f4a' + '00000039' + '7e' + '4279ae0510f00000' + '000000056140792f72' +
      '00000003624078' + '000000076d657373616765' + '000000026d31' + '0000000463686174' + '000000030102ff' + stanza.toString('hex'),
  );
  t.deepEqual(verifyOut(key, rec), { stanza: 'ok', bytes: stanza, meta });
  const bare = sealOut(keyOf('ŝhip', 1n), Buffer.alloc(0), { priority: 'low', acceptedAt: 0 });
  t.is(bare.toString('hex'), 'c1016f401aeb4f9503019c00000009010000000000000000');
  t.deepEqual(verifyOut(keyOf('ŝhip', 1n), bare), { stanza: 'ok', bytes: Buffer.alloc(0), meta: { priority: 'low', acceptedAt: 0 } });
});

test('outbound records: damaged stanza keeps its head; damaged head keeps the stanza; moved record fails both', (t) => {
  const rec = sealOut(key, stanza, meta);
  const body = Buffer.from(rec);
  body[body.length - 12] ^= 0x20; // in the stanza
  t.deepEqual(verifyOut(key, body), { stanza: 'damaged', bytes: body.subarray(rec.length - stanza.length), meta });
  const head = Buffer.from(rec);
  head[30] ^= 0x01; // in `from`
  const v = verifyOut(key, head);
  t.is(v.stanza, 'ok');
  t.is(v.meta, undefined, 'a damaged head is not used for a bounce');
  const other = keyOf('ship-1.example', 1n);
  t.deepEqual(verifyOut(other, rec), { stanza: 'damaged', bytes: stanza }, 'a record moved to another key');
  t.deepEqual(verifyOut(key, rec.subarray(0, 20)), { stanza: 'damaged' }, 'cut short');
  const lenBroken = Buffer.from(rec);
  lenBroken[11] = 0x7f; // the meta's length points past the end
  t.deepEqual(verifyOut(key, lenBroken), { stanza: 'damaged' });
});

test('link-message records: layout 1 byte for byte; a damaged member list is not used', (t) => {
  const msg = Buffer.from('<a/><b/>');
  const rec = sealGroup(key, [1n, 2n, 12345678901234n], msg, 'low');
  t.is(rec.toString('hex'), 'c10167' + '3ad1559f' + '95738af6' + '01' + '00000003' + '0000000000000001' + '0000000000000002' + '00000b3a73ce2ff2' + msg.toString('hex'));
  t.deepEqual(verifyGroup(key, rec), { bytes: 'ok', stanza: msg, ids: [1n, 2n, 12345678901234n], priority: 'low' });
  const ids = Buffer.from(rec);
  ids[23] ^= 0x04; // member 1 becomes 5
  t.deepEqual(verifyGroup(key, ids), { bytes: 'ok', stanza: msg });
  const bytes = Buffer.from(rec);
  bytes[bytes.length - 2] ^= 0x01;
  t.like(verifyGroup(key, bytes), { bytes: 'damaged', ids: [1n, 2n, 12345678901234n], priority: 'low' });
});

test('inbound records: layout 1 byte for byte, per-part checksums and heads', (t) => {
  const head = { kind: 'message', id: 'i1', from: 'f@x', to: 't@y', type: 'chat' };
  const s = Buffer.from('<a/><b x="1"/>');
  const rec = sealIn(key, s, new Uint8Array([9]), [{ length: 4, head }, { length: 10 }]);
  t.is(
    rec.toString('hex'),
    'c10169' + '79bd9337' + '00000002' + 'ec49f347' + '8e5fa138' + '01' + '0000000109' +
      '00000004' + '1f' + '000000076d657373616765' + '000000026931' + '00000003664078' + '00000003744079' + '0000000463686174' +
      '0000000a' + '00' + s.toString('hex'),
  );
  t.deepEqual(verifyIn(key, rec), {
    verdict: 'ok',
    parts: [{ bytes: s.subarray(0, 4), ok: true, head }, { bytes: s.subarray(4), ok: true }],
    meta: new Uint8Array([9]),
  });
  const second = Buffer.from(rec);
  second[second.length - 3] ^= 0x01; // in the second part
  t.deepEqual(
    verifyIn(key, second).parts.map((p) => [p.ok, p.head?.id]),
    [[true, 'i1'], [false, undefined]],
  );
  const first = Buffer.from(rec);
  first[first.length - 12] ^= 0x01; // in the first part: its head is still given for the bounce
  t.deepEqual(
    verifyIn(key, first).parts.map((p) => [p.ok, p.head?.id]),
    [[false, 'i1'], [true, undefined]],
  );
  t.deepEqual(verifyIn(key, rec.subarray(0, 30)), { verdict: 'damaged', parts: [] }, 'cut short');
  t.deepEqual(inMetaOf(key, second), new Uint8Array([9]), 'the meta of a record being rewritten, its stanzas unchecked');
  const metaHit = Buffer.from(rec);
  metaHit[24] ^= 0x01; // the meta byte
  t.is(inMetaOf(key, metaHit), undefined, 'only when intact');
  t.is(inMetaOf(key, oldEncoding.pack({ s, m: new Uint8Array([9]) }))?.length, 1, 'an unchecked msgpack record');
  const whole = sealIn(key, s, undefined, [{ length: 3 }]); // lengths that do not add up: one part
  t.deepEqual(verifyIn(key, whole), { verdict: 'ok', parts: [{ bytes: s, ok: true }] });
});

test('records of the msgpack layout still read: checksums as released, damage found, unchecked ones taken', (t) => {
  // The msgpack object the spool wrote before the binary layout (c and h as that code computed them).
  const out = oldEncoding.pack({ s: stanza, m: meta, c: 2999036164, h: 158261751 });
  t.deepEqual(verifyOut(key, out), { stanza: 'ok', bytes: stanza, meta: { ...meta, extra: Buffer.from([1, 2, 255]) } });
  const out2 = oldEncoding.pack({ s: Buffer.alloc(0), m: { priority: 'low', acceptedAt: 0 }, c: 1075505999, h: 4069570523 });
  t.is(verifyOut(keyOf('ŝhip', 1n), out2).stanza, 'ok');
  t.like(verifyOut(keyOf('ŝhip', 1n), out2), { meta: { priority: 'low', acceptedAt: 0 } });
  const damaged = oldEncoding.pack({ s: Buffer.from(stanza.toString().replace('hi', 'ho')), m: meta, c: 2999036164, h: 158261751 });
  t.like(verifyOut(key, damaged), { stanza: 'damaged', meta: { sid: 'm1', from: 'a@y/r' } }, 'damaged content, head intact: bounced');
  t.is(verifyOut(keyOf('ship-1.example', 1n), out).stanza, 'damaged', 'moved to another key');
  t.deepEqual(verifyOut(key, oldEncoding.pack({ s: stanza, m: meta })), { stanza: 'unchecked', bytes: stanza, meta: { ...meta, extra: Buffer.from([1, 2, 255]) } });
  t.deepEqual(verifyOut(key, Buffer.from([0x83, 0xa1])), { stanza: 'damaged' }, 'msgpack that does not decode');
});

test('state values: layout 1 byte for byte; damaged or moved ones are DAMAGED; the msgpack ones still read', (t) => {
  const seq = sealState('seq\0shore', '12345678901234');
  t.is(seq.toString('hex'), 'c10173' + '2e388312' + '00000b3a73ce2ff2');
  const dut = sealState('dut\0shore', { d: '7', a: ['9', '18446744073709551615'] });
  t.is(dut.toString('hex'), 'c10173' + 'f73b9322' + '0000000000000007' + '00000002' + '0000000000000009' + 'ffffffffffffffff');
  const db = (values: Record<string, Uint8Array>) => ({ getBinary: (k: string) => values[k] });
  t.is(readState(db({ 'seq\0shore': seq }), 'seq\0shore'), '12345678901234');
  t.deepEqual(readState(db({ 'dut\0shore': dut }), 'dut\0shore'), { d: '7', a: ['9', '18446744073709551615'] });
  t.is(readState(db({}), 'seq\0shore'), undefined);
  t.is(readState(db({ 'seq\0other': seq }), 'seq\0other'), DAMAGED, 'moved to another key');
  const flipped = Buffer.from(dut);
  flipped[14] ^= 1;
  t.is(readState(db({ 'dut\0shore': flipped }), 'dut\0shore'), DAMAGED);
  t.is(readState(db({ 'dut\0shore': dut.subarray(0, 20) }), 'dut\0shore'), DAMAGED, 'cut short');
  // As the previous release wrote them: { v, c } (c over the JSON text), or v alone before checksums.
  t.is(readState(db({ 'gseq\0shore': oldEncoding.pack({ v: '41', c: 709532165 }) }), 'gseq\0shore'), '41');
  t.is(readState(db({ 'gseq\0shore': oldEncoding.pack({ v: '42', c: 709532165 }) }), 'gseq\0shore'), DAMAGED);
  t.deepEqual(readState(db({ 'dut\0shore': oldEncoding.pack({ d: '3', a: ['5'] }) }), 'dut\0shore'), { d: '3', a: ['5'] });
  t.is(readState(db({ 'seq\0shore': oldEncoding.pack('x1') }), 'seq\0shore'), DAMAGED, 'not an id');
});

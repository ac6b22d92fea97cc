import test from 'ava';
import { crc32 } from 'node:zlib';
import { SerialFrameDecoder, cobsDecode, encodeSerialFrame, maxEncodedLength } from '../../../src/link/drivers/serial-framing.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { rng, randomBytes } from './rng.ts';

function feed(dec: SerialFrameDecoder, wire: Buffer, split: 'whole' | 'half' | 'bytes' | number[]): Buffer[] {
  const out: Buffer[] = [];
  if (split === 'whole') out.push(...dec.push(wire));
  else if (split === 'half') {
    const m = wire.length >> 1;
    out.push(...dec.push(wire.subarray(0, m)), ...dec.push(wire.subarray(m)));
  } else if (split === 'bytes') for (let i = 0; i < wire.length; i++) out.push(...dec.push(wire.subarray(i, i + 1)));
  else {
    let at = 0;
    for (const cut of [...split, wire.length]) {
      out.push(...dec.push(wire.subarray(at, cut)));
      at = cut;
    }
  }
  return out;
}

test('test vector: known payload encodes to the documented bytes', (t) => {
  // payload 11 00 22; CRC-32 = 0x37c551b1, appended little-endian; COBS; delimiter
  t.is(crc32(Buffer.from('123456789')), 0xcbf43926, 'CRC-32/IEEE check value');
  const payload = Buffer.from([0x11, 0x00, 0x22]);
  const wire = Buffer.from([0x02, 0x11, 0x06, 0x22, 0xb1, 0x51, 0xc5, 0x37, 0x00]);
  t.deepEqual(encodeSerialFrame(payload), wire);
  t.deepEqual(encodeSerialFrame(payload, { leadingDelimiter: true }), Buffer.concat([Buffer.from([0]), wire]));
  t.deepEqual(new SerialFrameDecoder({ maxPayload: 8 }).push(wire), [payload]);
  // 254 non-zero bytes fill one COBS block exactly (code 0xff)
  const long = encodeSerialFrame(Buffer.alloc(254, 0x41));
  t.is(long[0], 0xff);
  t.is(long.subarray(0, -1).indexOf(0), -1, 'no 0x00 inside the body');
});

for (const split of ['whole', 'half', 'bytes'] as const) {
  test(`round trip of many frames fed ${split}`, (t) => {
    const seed = 1000 + split.length;
    t.log(`seed ${seed}`);
    const r = rng(seed);
    const payloads = Array.from({ length: 200 }, (_, i) => randomBytes(r, i === 0 ? 0 : Math.floor(r() * 700), 0.3));
    payloads.push(Buffer.alloc(254, 7), Buffer.alloc(253, 1), Buffer.alloc(508, 0xff), Buffer.alloc(300, 0));
    const wire = Buffer.concat(payloads.map((p, i) => encodeSerialFrame(p, { leadingDelimiter: i % 3 === 0 })));
    for (const p of payloads) t.true(maxEncodedLength(p.length) + 2 >= encodeSerialFrame(p).length);
    const dec = new SerialFrameDecoder({ maxPayload: 1024 });
    const got = feed(dec, wire, split);
    t.is(got.length, payloads.length);
    t.deepEqual(got, payloads);
    t.is(dec.droppedTotal, 0);
  });
}

test('random splits: seeded property over chunkings', (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const r = rng(seed);
    const payloads = Array.from({ length: 10 }, () => randomBytes(r, Math.floor(r() * 600)));
    const wire = Buffer.concat(payloads.map((p) => encodeSerialFrame(p)));
    const cuts = Array.from({ length: 12 }, () => Math.floor(r() * wire.length)).sort((a, b) => a - b);
    const got = feed(new SerialFrameDecoder({ maxPayload: 600 }), wire, cuts);
    t.deepEqual(got, payloads, `seed ${seed}`);
  }
});

test('garbage between frames resynchronises and is counted', (t) => {
  const seed = 77;
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`frame ${i} ${'x'.repeat(i)}`));
  const parts: Buffer[] = [];
  let garbageFrames = 0;
  for (const p of payloads) {
    if (r() < 0.5) {
      // non-zero garbage closed by a delimiter: one bad frame
      const g = randomBytes(r, 1 + Math.floor(r() * 40), 0).map((b) => b || 1);
      parts.push(Buffer.from(g), Buffer.from([0]));
      garbageFrames++;
    }
    parts.push(encodeSerialFrame(p, { leadingDelimiter: true }));
  }
  for (const split of ['whole', 'half', 'bytes'] as const) {
    const dec = new SerialFrameDecoder({ maxPayload: 256 });
    t.deepEqual(feed(dec, Buffer.concat(parts), split), payloads, split);
    t.is(dec.droppedTotal, garbageFrames, split);
  }
});

test('garbage before a frame with a leading delimiter does not spoil it', (t) => {
  const dec = new SerialFrameDecoder({ maxPayload: 64 });
  const f = Buffer.from('hello');
  const got = dec.push(Buffer.concat([Buffer.from([0x55, 0xaa, 0x13]), encodeSerialFrame(f, { leadingDelimiter: true })]));
  t.deepEqual(got, [f]);
  t.is(dec.droppedTotal, 1);
});

test('every single bit flip in a frame is detected, neighbours survive', (t) => {
  const metrics = new Metrics();
  const a = Buffer.from('before'), b = Buffer.from('the frame under test \x00\x01\x02 with zeros'), c = Buffer.from('after');
  const ea = encodeSerialFrame(a), eb = encodeSerialFrame(b), ec = encodeSerialFrame(c);
  let detected = 0;
  for (let bit = 0; bit < (eb.length - 1) * 8; bit++) {
    const bad = Buffer.from(eb);
    bad[bit >> 3] ^= 1 << (bit & 7);
    const dec = new SerialFrameDecoder({ maxPayload: 128, metrics, link: 'x' });
    const got = dec.push(Buffer.concat([ea, bad, ec]));
    t.deepEqual(got[0], a);
    t.deepEqual(got[got.length - 1], c);
    t.false(got.some((g) => g.equals(b)), `bit ${bit} slipped through`);
    t.true(got.length === 2, `bit ${bit}: corrupted frame delivered`);
    if (dec.droppedTotal >= 1) detected++;
  }
  t.is(detected, (eb.length - 1) * 8);
  t.true(metrics.get('serial_frames_dropped_total', { link: 'x' }) >= detected);
});

test('oversize run is dropped without growing memory, then decoding resumes', (t) => {
  const dec = new SerialFrameDecoder({ maxPayload: 16 });
  const ok = Buffer.from('ok');
  const wire = Buffer.concat([encodeSerialFrame(Buffer.alloc(100, 9)), Buffer.alloc(5000, 0x41), encodeSerialFrame(ok, { leadingDelimiter: true })]);
  t.deepEqual(feed(dec, wire, 'bytes'), [ok]);
  t.is(dec.stats.dropped.oversize, 2);
});

test('runt and malformed COBS are counted by reason', (t) => {
  const dec = new SerialFrameDecoder({ maxPayload: 16 });
  t.deepEqual(dec.push(Buffer.from([0x02, 0x05, 0x00])), []); // decodes to 1 byte: shorter than the CRC
  t.is(dec.stats.dropped.runt, 1);
  t.deepEqual(dec.push(Buffer.from([0x09, 0x05, 0x00])), []); // code points past the end
  t.is(dec.stats.dropped.cobs, 1);
  t.deepEqual(dec.push(Buffer.from([0x00, 0x00, 0x00])), [], 'empty frames between delimiters are idle fill');
  t.is(dec.droppedTotal, 2);
});

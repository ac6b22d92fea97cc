/** LinkEmulator in simulated time: rate, timing, loss models, BER, MTU, outages, duplex, reproducibility. */
import test from 'ava';
import { LinkEmulator, type BearerParams, type Delivery } from '../../src/emulator/engine.ts';
import { EmulatorError } from '../../src/emulator/errors.ts';
import { Rng } from '../../src/emulator/rng.ts';

/** A datagram of `size` bytes whose first 4 bytes carry `seq` and the rest a seeded pattern. */
function packet(seq: number, size: number): Buffer {
  const b = Buffer.alloc(size, seq & 0xff);
  b.writeUInt32BE(seq, 0);
  return b;
}

/** Sends `n` packets, one every `gap_ms`, polling as it goes; returns every delivery until idle. */
function run(em: LinkEmulator, n: number, size: number, gapMs: number): Delivery[] {
  const out: Delivery[] = [];
  for (let i = 0; i < n; i++) {
    const now = i * gapMs;
    out.push(...em.poll(now));
    em.send(now, 'ab', packet(i, size));
  }
  drain(em, out);
  return out;
}

function drain(em: LinkEmulator, out: Delivery[]): void {
  for (let t = em.nextTimeout(); t !== undefined; t = em.nextTimeout()) out.push(...em.poll(t));
}

const seqOf = (d: Delivery): number => d.data.readUInt32BE(0);

test('single packet: serialisation + delay exactly (1500 B at 2400 bit/s = 5 s)', (t) => {
  const em = new LinkEmulator({ rate_bps: 2400, delay_ms: 300 }, 1);
  em.send(0, 'ab', packet(1, 1500));
  em.send(0, 'ab', packet(2, 1500));
  t.is(em.nextTimeout(), 5300);
  t.deepEqual(em.poll(5299.999), []);
  const first = em.poll(5300);
  t.is(first.length, 1);
  t.is(first[0].at, 5300);
  t.is(seqOf(first[0]), 1);
  // The second waits for the line: 10 s of serialisation then the delay.
  t.is(em.nextTimeout(), 10300);
  const second = em.poll(20000);
  t.is(second[0].at, 10300);
  t.is(seqOf(second[0]), 2);
  // The other direction has its own line in full duplex.
  em.send(20000, 'ba', packet(3, 300));
  t.is(em.nextTimeout(), 20000 + 1000 + 300);
  t.is(em.stats.ab.busy_ms, 10000);
  t.is(em.stats.ab.delivered, 2);
  t.is(em.stats.ab.bytes_delivered, 3000);
  t.is(em.stats.ab.latency_ms_sum, 5300 + 10300);
  t.is(em.stats.ab.latency_ms_max, 10300);
});

test('overhead_bytes is charged on the line', (t) => {
  const em = new LinkEmulator({ rate_bps: 8000, delay_ms: 0, overhead_bytes: 28 }, 1);
  em.send(0, 'ab', Buffer.alloc(72));
  t.is(em.nextTimeout(), 100); // (72 + 28) bytes * 1 ms
});

test('throughput under overload equals the rate within 2%', (t) => {
  const rate = 64_000;
  const em = new LinkEmulator({ rate_bps: rate, delay_ms: 300, jitter_ms: 20 }, 7);
  // Offer ~2x the rate for 300 s: 1000 B every 62.5 ms = 128 kbit/s.
  const horizon = 300_000;
  const out: Delivery[] = [];
  for (let now = 0; now < horizon; now += 62.5) {
    out.push(...em.poll(now));
    em.send(now, 'ab', packet(out.length, 1000));
  }
  out.push(...em.poll(horizon));
  const bytes = out.reduce((a, d) => a + d.data.length, 0);
  const measured = (bytes * 8) / ((horizon - 300) / 1000);
  t.true(Math.abs(measured - rate) / rate < 0.02, `measured ${measured} bit/s`);
  t.true(em.stats.ab.dropped_queue > 0, 'drop-tail queue overflowed');
  t.is(em.stats.ab.sent, em.stats.ab.dropped_queue + em.stats.ab.delivered + em.queuedBytes('ab') / 1000);
});

test('drop-tail queue limit', (t) => {
  const em = new LinkEmulator({ rate_bps: 8000, delay_ms: 0, queue_bytes: 2500 }, 1);
  for (let i = 0; i < 5; i++) em.send(0, 'ab', packet(i, 1000));
  t.is(em.stats.ab.dropped_queue, 3);
  // After the first packet has left the line (1 s) there is room for one more.
  em.send(1000, 'ab', packet(9, 1000));
  t.is(em.stats.ab.dropped_queue, 3);
  const out: Delivery[] = [];
  drain(em, out);
  t.deepEqual(out.map(seqOf), [0, 1, 9]);
});

test('Bernoulli loss rate within tolerance', (t) => {
  for (const seed of [11, 12]) {
    const em = new LinkEmulator({ rate_bps: 1e9, delay_ms: 10, loss: { model: 'bernoulli', p: 0.1 } }, seed);
    const n = 20_000;
    const out = run(em, n, 100, 1);
    const lossRate = 1 - out.length / n;
    t.true(Math.abs(lossRate - 0.1) < 0.01, `seed=${seed} loss ${lossRate}`);
    t.is(em.stats.ab.dropped_loss, n - out.length, `seed=${seed}`);
  }
});

/** Lengths of runs of consecutive missing sequence numbers. */
function bursts(received: number[], n: number): number[] {
  const got = new Set(received);
  const runs: number[] = [];
  let cur = 0;
  for (let i = 0; i < n; i++) {
    if (!got.has(i)) cur++;
    else if (cur > 0) {
      runs.push(cur);
      cur = 0;
    }
  }
  if (cur > 0) runs.push(cur);
  return runs;
}

test('Gilbert-Elliott: bursts of mean 1/p_bg, overall rate at the stationary value', (t) => {
  const seed = 21;
  const p_gb = 0.01;
  const p_bg = 0.25;
  const em = new LinkEmulator({ rate_bps: 1e9, delay_ms: 10, loss: { model: 'gilbert_elliott', p_gb, p_bg } }, seed);
  const n = 100_000;
  const out = run(em, n, 50, 1);
  const runs = bursts(out.map(seqOf), n);
  const meanBurst = runs.reduce((a, b) => a + b, 0) / runs.length;
  const lossRate = 1 - out.length / n;
  const stationary = p_gb / (p_gb + p_bg);
  t.true(Math.abs(meanBurst - 1 / p_bg) / (1 / p_bg) < 0.1, `seed=${seed} mean burst ${meanBurst}`);
  t.true(Math.abs(lossRate - stationary) / stationary < 0.1, `seed=${seed} loss ${lossRate} vs ${stationary}`);
  // Same average loss, independent losses: bursts barely longer than 1.
  const bern = new LinkEmulator({ rate_bps: 1e9, delay_ms: 10, loss: { model: 'bernoulli', p: stationary } }, seed);
  const bOut = run(bern, n, 50, 1);
  const bRuns = bursts(bOut.map(seqOf), n);
  t.true(bRuns.reduce((a, b) => a + b, 0) / bRuns.length < 1.1, `seed=${seed}`);
});

test('Gilbert-Elliott with loss_good / loss_bad', (t) => {
  const seed = 22;
  const loss = { model: 'gilbert_elliott' as const, p_gb: 0.05, p_bg: 0.2, loss_good: 0.01, loss_bad: 0.5 };
  const em = new LinkEmulator({ rate_bps: 1e9, delay_ms: 1, loss }, seed);
  const n = 100_000;
  const out = run(em, n, 20, 1);
  const piBad = loss.p_gb / (loss.p_gb + loss.p_bg);
  const expected = piBad * loss.loss_bad + (1 - piBad) * loss.loss_good;
  const lossRate = 1 - out.length / n;
  t.true(Math.abs(lossRate - expected) / expected < 0.1, `seed=${seed} loss ${lossRate} vs ${expected}`);
});

test('BER flips the expected number of bits, and stats match the actual damage', (t) => {
  const seed = 31;
  const ber = 1e-4;
  const em = new LinkEmulator({ rate_bps: 1e9, delay_ms: 1, ber }, seed);
  const n = 2000;
  const size = 500;
  const out = run(em, n, size, 1);
  t.is(out.length, n);
  let flipped = 0;
  let damaged = 0;
  for (const [i, d] of out.entries()) {
    // No reordering configured: the i-th delivery is the i-th packet sent.
    const orig = packet(i, size);
    let f = 0;
    for (let i = 0; i < size; i++) {
      let x = orig[i] ^ d.data[i];
      while (x) {
        f += x & 1;
        x >>= 1;
      }
    }
    flipped += f;
    if (f > 0) damaged++;
  }
  const expected = n * size * 8 * ber; // 800
  t.true(Math.abs(flipped - expected) / expected < 0.15, `seed=${seed} flipped ${flipped}`);
  t.is(em.stats.ab.bits_flipped, flipped);
  t.is(em.stats.ab.corrupted_packets, damaged);
});

test('stream mode: no loss, bit errors apply, chunks stay in order', (t) => {
  const seed = 32;
  const em = new LinkEmulator({ rate_bps: 96_000, delay_ms: 50, jitter_ms: 40, ber: 1e-3, loss: { model: 'bernoulli', p: 0.5 }, duplicate: 0.5, reorder: 0.5 }, seed);
  const data = Buffer.alloc(50_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  em.send(0, 'ab', data, 'stream');
  const out: Delivery[] = [];
  drain(em, out);
  const got = Buffer.concat(out.map((d) => d.data));
  t.is(got.length, data.length, `seed=${seed}`);
  let diffBits = 0;
  for (let i = 0; i < got.length; i++) {
    let x = got[i] ^ data[i];
    while (x) {
      diffBits += x & 1;
      x >>= 1;
    }
  }
  t.is(diffBits, em.stats.ab.bits_flipped);
  t.true(diffBits > 200 && diffBits < 600, `seed=${seed} flips ${diffBits}`);
  t.is(em.stats.ab.dropped_loss + em.stats.ab.duplicated + em.stats.ab.reordered, 0);
  // Arrival times are non-decreasing and the last byte leaves the line at 50 000 * 8 / 96 kbit/s.
  for (let i = 1; i < out.length; i++) t.true(out[i].at >= out[i - 1].at);
  t.true(out[out.length - 1].at >= (50_000 * 8 * 1000) / 96_000 + 10);
});

test('MTU: datagrams over the MTU are dropped and counted; streams are chunked instead', (t) => {
  const em = new LinkEmulator({ rate_bps: 1e6, delay_ms: 1, mtu: 500 }, 1);
  em.send(0, 'ab', packet(1, 500));
  em.send(0, 'ab', packet(2, 501));
  em.send(0, 'ab', Buffer.alloc(2000, 7), 'stream');
  const out: Delivery[] = [];
  drain(em, out);
  t.is(em.stats.ab.dropped_mtu, 1);
  t.is(out[0].data.length, 500);
  t.is(seqOf(out[0]), 1);
  t.true(out.slice(1).every((d) => d.data.length <= 500));
  t.is(out.slice(1).reduce((a, d) => a + d.data.length, 0), 2000);
});

test('outage drops exactly the datagrams whose transmission overlaps it', (t) => {
  // 100 B at 80 kbit/s = 10 ms on the line; one packet every 100 ms; outage 10 s..15 s.
  const em = new LinkEmulator({ rate_bps: 80_000, delay_ms: 5, outages: [{ start_s: 10, duration_s: 5 }] }, 1);
  const out = run(em, 300, 100, 100);
  const lost = new Set(Array.from({ length: 300 }, (_, i) => i).filter((i) => !out.some((d) => seqOf(d) === i)));
  // Sent at i*100 ms, on the line [i*100, i*100+10): overlaps [10000, 15000) for i = 100..149.
  t.deepEqual([...lost], Array.from({ length: 50 }, (_, i) => 100 + i));
  t.is(em.stats.ab.dropped_outage, 50);
  // A packet whose tail would touch the window: sent at 9995 ms, line time to 10005 ms.
  const em2 = new LinkEmulator({ rate_bps: 80_000, delay_ms: 5, outages: [{ start_s: 10, duration_s: 5 }] }, 1);
  em2.send(9989, 'ab', packet(1, 100));
  em2.send(9995, 'ab', packet(2, 100)); // waits for the line until 9999, on the line until 10009
  t.is(em2.stats.ab.dropped_outage, 1);
});

test('periodic outages drop each window', (t) => {
  // Every 20 s, 2 s long, starting at 5 s: windows [5,7), [25,27), [45,47) within 60 s.
  const em = new LinkEmulator({ rate_bps: 8_000_000, delay_ms: 1, outages: [{ every_s: 20, duration_s: 2, offset_s: 5 }] }, 1);
  const out = run(em, 600, 10, 100); // 10 B = 0.01 ms on the line
  const got = new Set(out.map(seqOf));
  const expectLost = Array.from({ length: 600 }, (_, i) => i).filter((i) => {
    const s = (i * 100) / 1000;
    return s >= 5 && ((s - 5) % 20) < 2;
  });
  t.is(expectLost.length, 60);
  t.deepEqual(Array.from({ length: 600 }, (_, i) => i).filter((i) => !got.has(i)), expectLost);
});

test('outage delays stream bytes until it ends', (t) => {
  const em = new LinkEmulator({ rate_bps: 80_000, delay_ms: 5, outages: [{ start_s: 1, duration_s: 2 }] }, 1);
  em.send(500, 'ab', Buffer.from('before'), 'stream');
  em.send(1500, 'ab', Buffer.from('during'), 'stream');
  const out: Delivery[] = [];
  drain(em, out);
  t.is(out[0].data.toString(), 'before');
  t.is(out[0].at, 500 + 0.6 + 5);
  t.is(out[1].data.toString(), 'during');
  t.is(out[1].at, 3000 + 0.6 + 5); // line resumes when the window closes at 3 s
  t.is(em.stats.ab.delayed_outage, 1);
  t.is(em.stats.ab.dropped_outage, 0);
});

test('half duplex: one line for both directions, turnaround on each change', (t) => {
  // 8000 bit/s: 1 byte = 1 ms.
  const half = new LinkEmulator({ rate_bps: 8000, delay_ms: 100, duplex: 'half', turnaround_ms: 50 }, 1);
  half.send(0, 'ab', packet(1, 100)); // line [0,100) -> 200
  half.send(0, 'ba', packet(2, 100)); // turnaround, line [150,250) -> 350
  half.send(0, 'ab', packet(3, 100)); // turnaround, line [300,400) -> 500
  half.send(0, 'ab', packet(4, 100)); // same direction, line [400,500) -> 600
  const out: Delivery[] = [];
  drain(half, out);
  t.deepEqual(out.map((d) => [d.dir, seqOf(d), d.at]), [['ab', 1, 200], ['ba', 2, 350], ['ab', 3, 500], ['ab', 4, 600]]);
  // A line idle for longer than the turnaround needs no extra wait.
  half.send(1000, 'ba', packet(5, 100));
  t.is(half.nextTimeout(), 1200);
  // Full duplex: both directions at once.
  const full = new LinkEmulator({ rate_bps: 8000, delay_ms: 100, turnaround_ms: 50 }, 1);
  full.send(0, 'ab', packet(1, 100));
  full.send(0, 'ba', packet(2, 100));
  const fout: Delivery[] = [];
  drain(full, fout);
  t.deepEqual(fout.map((d) => d.at), [200, 200]);
});

test('jitter without reorder keeps order and bounds the delay', (t) => {
  const seed = 41;
  const em = new LinkEmulator({ rate_bps: 1e9, delay_ms: 200, jitter_ms: 50 }, seed);
  const sentAt = (i: number): number => i * 5;
  const out = run(em, 5000, 100, 5);
  t.deepEqual(out.map(seqOf), Array.from({ length: 5000 }, (_, i) => i), `seed=${seed}`);
  const delays = out.map((d) => d.at - sentAt(seqOf(d)));
  t.true(Math.min(...delays) >= 150 && Math.max(...delays) <= 250.01, `seed=${seed}`);
  t.true(Math.max(...delays) - Math.min(...delays) > 80, `seed=${seed} jitter visible`);
  t.is(em.stats.ab.reordered, 0);
});

test('duplication and reordering counts match what is delivered', (t) => {
  const seed = 51;
  const n = 20_000;
  const em = new LinkEmulator({ rate_bps: 800_000, delay_ms: 100, duplicate: 0.05, reorder: 0.05 }, seed);
  const out = run(em, n, 100, 1); // 1 ms on the line each, back to back
  const seqs = out.map(seqOf);
  const dups = seqs.length - new Set(seqs).size;
  let maxSeen = -1;
  let late = 0;
  for (const s of seqs) {
    if (s < maxSeen) late++;
    else maxSeen = s;
  }
  t.is(em.stats.ab.duplicated, dups);
  t.is(em.stats.ab.reordered, late);
  t.true(Math.abs(dups / n - 0.05) < 0.006, `seed=${seed} dup ${dups}`);
  t.true(Math.abs(late / n - 0.05) < 0.006, `seed=${seed} reordered ${late}`);
  t.is(new Set(seqs).size, n, 'nothing lost');
});

function scenario(seed: number): Array<[string, number, string]> {
  const params: BearerParams = {
    rate_bps: 19_200, delay_ms: 300, jitter_ms: 30, ber: 1e-4, duplicate: 0.02, reorder: 0.02,
    loss: { model: 'gilbert_elliott', p_gb: 0.02, p_bg: 0.3 },
  };
  const em = new LinkEmulator(params, seed);
  const out: Delivery[] = [];
  for (let i = 0; i < 500; i++) {
    out.push(...em.poll(i * 50));
    em.send(i * 50, i % 3 === 0 ? 'ba' : 'ab', packet(i, 100));
  }
  drain(em, out);
  return out.map((d) => [d.dir, d.at, d.data.toString('hex')]);
}

test('reproducible: same seed same result, different seed different result', (t) => {
  t.deepEqual(scenario(1234), scenario(1234));
  t.notDeepEqual(scenario(1234), scenario(1235));
});

test('bad parameters give a typed error', (t) => {
  const bad: unknown[] = [
    { rate_bps: 0, delay_ms: 1 },
    { rate_bps: 100, delay_ms: -1 },
    { rate_bps: 100, delay_ms: 1, loss: { model: 'bernoulli', p: 2 } },
    { rate_bps: 100, delay_ms: 1, loss: { model: 'markov' } },
    { rate_bps: 100, delay_ms: 1, outages: [{ every_s: 1, duration_s: 2 }] },
    { rate_bps: 100, delay_ms: 1, duplex: 'simplex' },
    { rate_bps: '100', delay_ms: 1 },
  ];
  for (const p of bad) {
    const err = t.throws(() => new LinkEmulator(p as BearerParams, 1), { instanceOf: EmulatorError });
    t.is(err?.code, 'EMU_BAD_PARAMS', JSON.stringify(p));
  }
});

test('Rng: deterministic, uniform enough', (t) => {
  const a = new Rng(99);
  const b = new Rng(99);
  const xs = Array.from({ length: 10_000 }, () => a.next());
  t.deepEqual(xs, Array.from({ length: 10_000 }, () => b.next()));
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  t.true(Math.abs(mean - 0.5) < 0.01);
  t.true(xs.every((v) => v >= 0 && v < 1));
  const c = new Rng(100);
  t.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, () => c.next()));
});

/** Reliable, ordered, exactly-once delivery over a simulated bearer (Pair harness). */
import test, { type ExecutionContext } from 'ava';
import { Pair, rng, seededBytes, type BearerModel, type PairOptions } from './pair.ts';
import { chatCorpus } from './corpus.ts';

const MAX_SIM_MS = 6 * 3600_000;

/** Loads both sides with chat traffic (high) and presence (low). */
function load(p: Pair, n: number): void {
  const corpus = chatCorpus(n, p.seed);
  corpus.forEach((s, i) => p.a.submit(s, s.subarray(0, 9).toString() === '<presence' ? 'low' : 'high'));
  for (let i = 0; i < n / 4; i++) p.b.submit(`<message type="chat" from="bob@b.example/x" to="alice@a.example" id="r${i}"><body>reply ${i}</body></message>`);
}

/** Every stanza delivered once, intact, in id order within each priority; nothing left. */
function checkDelivery(t: ExecutionContext, p: Pair, sent: { a: Map<bigint, Buffer>; b: Map<bigint, Buffer> }): void {
  const seed = `seed ${p.seed}`;
  for (const [from, to] of [['a', 'b'], ['b', 'a']] as const) {
    const want = sent[from];
    const got = p[to].received;
    t.deepEqual(p[to].duplicates, [], `${seed}: duplicates at ${to}`);
    t.is(new Set(got.map((g) => g.id)).size, got.length, `${seed}: an id delivered twice at ${to}`);
    t.is(got.length, want.size, `${seed}: ${to} got ${got.length}/${want.size}`);
    for (const g of got) t.true(want.get(g.id)?.equals(g.stanza), `${seed}: stanza ${g.id} intact at ${to}`);
    for (const prio of ['<presence', '<message']) {
      const ids = got.filter((g) => g.stanza.subarray(0, prio.length).toString() === prio).map((g) => g.id);
      t.true(ids.every((id, i) => i === 0 || id > ids[i - 1]), `${seed}: ${prio} out of order at ${to}`);
    }
  }
  t.is(p.a.outbox.size, 0, `${seed}: a still has unacked stanzas`);
  t.is(p.b.outbox.size, 0, `${seed}: b still has unacked stanzas`);
}

function snapshot(p: Pair): { a: Map<bigint, Buffer>; b: Map<bigint, Buffer> } {
  return {
    a: new Map([...p.a.outbox].map(([id, m]) => [id, m.stanza])),
    b: new Map([...p.b.outbox].map(([id, m]) => [id, m.stanza])),
  };
}

function run(t: ExecutionContext, o: PairOptions, n = 200): Pair {
  const p = new Pair(o);
  t.log(`seed ${o.seed}`);
  load(p, n);
  const sent = snapshot(p);
  let maxInFlight = 0;
  const ok = p.driveUntil(() => {
    maxInFlight = Math.max(maxInFlight, p.a.ep.stats().inFlight);
    return p.idle() && p.b.received.length === sent.a.size && p.a.received.length === sent.b.size;
  }, MAX_SIM_MS);
  t.true(ok, `seed ${o.seed}: not done after ${p.now} ms`);
  checkDelivery(t, p, sent);
  t.true(maxInFlight <= p.a.ep.stats().window, `seed ${o.seed}: in flight ${maxInFlight} > window`);
  return p;
}

const base: BearerModel = { latencyMs: 300, rateBps: 64_000 };

test('clean bearer: delivered in order, exactly once, no retransmission', (t) => {
  const p = run(t, { seed: 1, ab: base });
  t.is(p.a.ep.stats().retransmits, 0);
  t.is(p.a.metrics.get('link_frames_dropped_total'), 0);
  // Zero handshake: the first frame a sent carried data and arrived after one latency.
  t.true(p.b.received[0].at <= 300 + (p.tuning.mtu * 8000) / 64_000, `first stanza at ${p.b.received[0].at} ms`);
});

for (const loss of [0.05, 0.3]) {
  test(`${loss * 100}% loss, several seeds`, (t) => {
    let retx = 0;
    for (const seed of [11, 12, 13, 14]) retx += run(t, { seed, ab: { ...base, loss }, ba: { ...base, loss } }).a.ep.stats().retransmits;
    t.true(retx > 0, 'loss without retransmission?');
  });
}

test('Gilbert-Elliott bursts', (t) => {
  for (const seed of [21, 22, 23]) run(t, { seed, ab: { ...base, burst: { pEnter: 0.05, pLeave: 0.2, lossInBurst: 0.9 } } });
});

test('duplication and reordering', (t) => {
  for (const seed of [31, 32, 33]) {
    const p = run(t, { seed, ab: { ...base, dup: 0.2, reorder: 0.3 } });
    t.true(p.b.metrics.get('link_frames_dropped_total', { reason: 'replay' }) > 0, 'duplicates must be dropped as replays');
  }
});

test('bit flips: every corrupted frame dropped and counted, delivery intact', (t) => {
  const p = run(t, { seed: 41, ab: { ...base, ber: 1e-4 }, ba: { ...base, ber: 1e-4 } });
  const flippedAtB = p.ab.stats.corrupted_packets;
  const flippedAtA = p.ba.stats.corrupted_packets;
  t.true(flippedAtB > 5);
  t.is(p.b.metrics.get('link_frames_dropped_total'), flippedAtB);
  t.is(p.a.metrics.get('link_frames_dropped_total'), flippedAtA);
  t.true(p.b.metrics.get('link_frames_dropped_total', { reason: 'auth' }) > 0);
});

test('15-minute outage: sending capped at one probe per probe interval, link down/up, resumes without loss', (t) => {
  const outage: Array<[number, number]> = [[2_000, 902_000]];
  const p = new Pair({ seed: 51, tuning: { rtoMaxMs: 60_000, keepaliveS: 30, probeIntervalMs: 5_000 }, ab: { ...base, outages: outage }, ba: { ...base, outages: outage } });
  load(p, 100);
  p.drive(1_500); // some traffic before the outage
  const sentBefore = p.a.ep.stats().framesSent;
  p.driveUntil(() => p.now >= 3_000);
  for (let i = 0; i < 20; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>during outage ${i}</body></message>`);
  const sent = snapshot(p);
  // add what was already delivered
  p.driveUntil(() => p.now >= 902_000);
  const duringOutage = p.a.ep.stats().framesSent - sentBefore;
  // One probe per 5 s (outage.ts), besides the frames before the first timeout.
  t.true(duringOutage <= 900 / 5 + 10, `sent ${duringOutage} frames into a 15 min outage (probes not capped?)`);
  t.true(p.a.ep.stats().outageProbes >= 900 / 5 - 10, `${p.a.ep.stats().outageProbes} probes: probed all along?`);
  t.true(p.a.events.some((e) => e.type === 'down'), 'down event');
  const ok = p.driveUntil(() => p.idle(), 600_000);
  t.true(ok, 'drained after the outage');
  t.true(p.now - 902_000 <= 5_000 + 5 * 600, `recovered ${p.now - 902_000} ms after the outage (> a probe interval and a few RTTs)`);
  const downAt = p.a.events.findIndex((e) => e.type === 'down');
  t.true(p.a.events.slice(downAt).some((e) => e.type === 'up'), 'up after down');
  const allA = new Set(p.b.received.map((r) => r.id));
  for (const id of sent.a.keys()) t.true(allA.has(id), `id ${id} lost`);
  t.deepEqual(p.b.duplicates, []);
});

test('an hour-long outage runs in simulated time', (t) => {
  const outage: Array<[number, number]> = [[1_000, 3_601_000]];
  const p = new Pair({ seed: 52, ab: { ...base, outages: outage }, ba: { ...base, outages: outage } });
  load(p, 40);
  const sent = snapshot(p);
  const t0 = Date.now();
  t.true(p.driveUntil(() => p.idle(), 4 * 3600_000));
  t.true(Date.now() - t0 < 5_000, 'should take milliseconds of real time');
  checkDelivery(t, p, sent);
});

for (const who of ['b', 'a'] as const) {
  test(`endpoint ${who} restarted mid-transfer with resume state: no loss, no duplicate`, (t) => {
    for (const seed of [61, 62]) {
      const p = new Pair({ seed, ab: { ...base, loss: 0.05 }, ba: { ...base, loss: 0.05 } });
      t.log(`seed ${seed}`);
      load(p, 300);
      const sent = snapshot(p);
      t.true(p.driveUntil(() => p.b.received.length >= 60));
      const epochBefore = p[who].ep.epoch;
      p[who].restart(p.now);
      t.not(p[who].ep.epoch, epochBefore, 'a new epoch after restart');
      t.true(p.driveUntil(() => p.idle() && p.b.received.length === sent.a.size && p.a.received.length === sent.b.size, MAX_SIM_MS), `seed ${seed}`);
      checkDelivery(t, p, sent);
      const other = who === 'a' ? p.b : p.a;
      t.true(other.events.some((e) => e.type === 'resync'), 'the partner resynchronised');
    }
  });
}

test('crash after storing but before confirming: re-acked on resume, not delivered twice', (t) => {
  const p = new Pair({ seed: 71, ab: base });
  load(p, 100);
  const sent = snapshot(p);
  p.b.autoConfirm = false; // stored, never confirmed before the crash
  t.true(p.driveUntil(() => p.b.received.length >= 30));
  t.is(p.a.ackedIds.filter((id) => sent.a.has(id)).length, 0, 'nothing acked before confirmDelivered');
  p.b.autoConfirm = true;
  p.b.restart(p.now);
  t.true(p.driveUntil(() => p.idle() && p.b.received.length === sent.a.size, MAX_SIM_MS));
  checkDelivery(t, p, sent);
});

test('priority: a presence backlog delays a message by at most one frame', (t) => {
  const p = new Pair({ seed: 81, tuning: { rateBps: 2400, rttEstimateMs: 1000 }, ab: { latencyMs: 300, rateBps: 2400 } });
  const r = rng(81);
  const word = () => Math.floor(r() * 2 ** 32).toString(36);
  for (let i = 0; i < 400; i++) p.a.submit(`<presence from="${word()}@a.example/${word()}" to="bob@b.example"><status>${word()} ${word()}</status></presence>`, 'low');
  p.drive(1_000);
  const at = p.now;
  const id = p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>urgent</body></message>', 'high');
  t.true(p.driveUntil(() => p.b.received.length === 401, MAX_SIM_MS));
  const got = p.b.received.find((r) => r.id === id)!;
  t.log(`message at index ${p.b.received.indexOf(got)}, latency ${got.at - at} ms`);
  const frameMs = (p.tuning.mtu * 8 * 1000) / 2400;
  const presencesAfter = p.b.received.filter((r) => r.at > got.at).length;
  t.true(presencesAfter > 100, `the message should overtake the backlog (${presencesAfter} after it)`);
  // Ahead of it at most: what the driver already handed to the bearer (the window) plus one frame.
  const bound = 300 + (p.a.ep.stats().window + 2) * frameMs + p.tuning.ackDelayMs;
  t.true(got.at - at <= bound, `message latency ${got.at - at} ms > ${bound}`);
  // Submitted before any poll: high goes first.
  const q = new Pair({ seed: 82, ab: base });
  for (let i = 0; i < 50; i++) q.a.submit(`<presence from="u${i}@a.example/r" to="bob@b.example"/>`, 'low');
  const m = q.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>first</body></message>', 'high');
  q.driveUntil(() => q.b.received.length === 51);
  t.is(q.b.received[0].id, m);
});

test('large stanza split across many frames, small ones packed together', (t) => {
  const p = new Pair({ seed: 91, ab: { ...base, loss: 0.1 } });
  const parts: string[] = [];
  for (let i = 0; i < 4000; i++) parts.push(`line ${i} ${((i * 2654435761) >>> 0).toString(36)}`);
  const big = Buffer.from(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>${parts.join('\n')}</body></message>`);
  const small: bigint[] = [];
  for (let i = 0; i < 30; i++) small.push(p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>s${i}</body></message>`));
  const id = p.a.submit(big);
  t.true(p.driveUntil(() => p.idle(), MAX_SIM_MS));
  const got = p.b.received.find((r) => r.id === id);
  t.truthy(got);
  t.true(got!.stanza.equals(big));
  t.deepEqual(p.b.received.map((r) => r.id), [...small, id]);
  t.true(p.a.ep.stats().framesSent > 40, `big stanza of ${big.length} bytes in ${p.a.ep.stats().framesSent} frames`);
});

test('decompression bomb: capped after inflate, dropped, counted, acknowledged', (t) => {
  const p = new Pair({ seed: 101, ab: base });
  // b accepts at most 16 KiB; a (misconfigured) sends 200 KB that deflates to a few hundred bytes.
  const bOpts = p.b.makeOpts;
  (p.b as { makeOpts: typeof bOpts }).makeOpts = (r) => ({ ...bOpts(r), tuning: { ...p.tuning, maxStanzaBytes: 16_384 } });
  p.b.restart(0);
  const aOpts = p.a.makeOpts;
  (p.a as { makeOpts: typeof aOpts }).makeOpts = (r) => ({ ...aOpts(r), tuning: { ...p.tuning, maxStanzaBytes: 1 << 20 } });
  p.a.restart(0);
  const bomb = p.a.submit(Buffer.alloc(200_000, 0x41));
  const ok = p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>after</body></message>');
  t.true(p.driveUntil(() => p.idle()));
  t.deepEqual(p.b.received.map((r) => r.id), [ok]);
  t.false(p.b.received.some((r) => r.id === bomb));
  t.is(p.b.metrics.get('link_messages_dropped_total', { reason: 'too_big' }), 1);
  t.true(p.a.ackedIds.includes(bomb));
});

test('idle link: keepalives only every keepaliveS, link stays up', (t) => {
  const p = new Pair({ seed: 111, tuning: { keepaliveS: 30 }, ab: base });
  p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>hi</body></message>');
  p.driveUntil(() => p.idle());
  const f0 = p.a.ep.stats().framesSent + p.b.ep.stats().framesSent;
  p.drive(3600_000);
  const frames = p.a.ep.stats().framesSent + p.b.ep.stats().framesSent - f0;
  t.log(`${frames} frames in an idle hour`);
  // one PING and one ACK per keepalive period at most
  t.true(frames <= 2 * (3600 / 30) + 4, `${frames} frames in an idle hour`);
  t.true(frames >= 3600 / 30, 'keepalives do flow');
  t.false(p.a.events.some((e) => e.type === 'down') || p.b.events.some((e) => e.type === 'down'));
});

test('a stale frame of the old incarnation arriving after the new one does not hijack the link', (t) => {
  const p = new Pair({ seed: 121, ab: base });
  for (let i = 0; i < 5; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>before ${i}</body></message>`);
  // hold back a's first frame: it will arrive late
  let held: Buffer | undefined;
  p.taps.push((to, f) => { if (to !== p.b || held) return true; held = Buffer.from(f); return false; });
  p.step();
  p.a.restart(p.now);
  t.true(p.driveUntil(() => p.idle()));
  t.truthy(held);
  p.b.ep.handleFrame(p.now, held!); // the late frame of the old epoch
  for (let i = 0; i < 5; i++) p.a.submit(`<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>after ${i}</body></message>`);
  t.true(p.driveUntil(() => p.idle() && p.b.received.length === 10, 600_000), `seed ${p.seed}: link did not heal`);
  t.deepEqual(p.b.duplicates, []);
  t.deepEqual(p.b.received.map((r) => r.id), [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
});

test('cancel withdraws only never-sent messages; the receiver learns the new floor', (t) => {
  const p = new Pair({ seed: 131, ab: base });
  const s = (i: number) => `<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>c ${i}</body></message>`;
  const first = p.a.submit(s(1));
  const second = p.a.submit(s(2));
  const third = p.a.submit(s(3));
  t.true(p.a.ep.cancel(second), 'never sent: withdrawn');
  p.a.outbox.delete(second);
  t.false(p.a.ep.cancel(second), 'unknown id');
  t.true(p.driveUntil(() => p.idle()));
  t.deepEqual(p.b.received.map((r) => r.id), [first, third]);
  t.false(p.a.ep.cancel(third), 'delivered: cannot be withdrawn');
  // The floor travels with later frames: the next message tells b that nothing below it will come.
  p.a.submit(s(4));
  t.true(p.driveUntil(() => p.idle()));
  const floors = p.b.events.filter((e): e is { type: 'floor'; id: bigint } => e.type === 'floor').map((e) => e.id);
  t.true(floors.length > 0 && floors.at(-1)! > second, `floor events: ${floors.join(',')}`);
});

test('cancel refuses a message that was on the bearer before a resync', (t) => {
  const p = new Pair({ seed: 132, ab: { latencyMs: 300, loss: 1 } });
  const id = p.a.submit('<message type="chat" from="alice@a.example/x" to="bob@b.example"><body>lost</body></message>');
  p.drive(1000); // transmitted, lost on the bearer
  t.false(p.a.ep.cancel(id), 'was transmitted: the receiver may have it');
});

test('after an outage, the end that hears its partner again resends at once instead of waiting out its back-off', (t) => {
  const outage: Array<[number, number]> = [[2_000, 302_000]];
  const p = new Pair({ seed: 57, tuning: { rtoMaxMs: 60_000, keepaliveS: 30 }, ab: { ...base, outages: outage }, ba: { ...base, outages: outage } });
  p.driveUntil(() => p.now >= 2_500);
  // Both ends have data in flight in the dark, so both back off to rtoMaxMs, out of phase.
  for (let i = 0; i < 5; i++) p.a.submit(`<message from="alice@a.example/x" to="bob@b.example"><body>a ${i}</body></message>`);
  p.driveUntil(() => p.now >= 40_000);
  for (let i = 0; i < 5; i++) p.b.submit(`<message from="bob@b.example/y" to="alice@a.example"><body>b ${i}</body></message>`);
  p.driveUntil(() => p.now >= 302_000);
  t.is(p.a.received.length + p.b.received.length, 0, 'nothing crossed during the outage');
  t.true(p.driveUntil(() => p.a.received.length === 5 && p.b.received.length === 5, 600_000), 'both directions drained');
  const firstAtB = p.b.received[0].at;
  const firstAtA = p.a.received[0].at;
  // Whichever end's timer fires first wakes the other: the second direction follows within a few RTTs, not a back-off.
  const rtt = 2 * base.latencyMs;
  t.true(Math.abs(firstAtA - firstAtB) <= 4 * rtt + 1_000, `directions resumed ${Math.abs(firstAtA - firstAtB)} ms apart`);
  t.true(p.a.metrics.get('link_outages_total') + p.b.metrics.get('link_outages_total') >= 1, 'counted');
  t.deepEqual([...p.a.duplicates, ...p.b.duplicates], []);
});

test('a delay spike that fires a spurious timeout does not lock that end out while its partner keeps sending', (t) => {
  const fast = { latencyMs: 40, rateBps: 400_000 };
  const p = new Pair({ seed: 58, tuning: { rtoMaxMs: 10_000, rateBps: 400_000, rttEstimateMs: 80 }, ab: { ...fast }, ba: { ...fast } });
  const bytes = seededBytes(rng(3)); // incompressible: each side keeps frames in flight
  for (let i = 0; i < 300; i++) p.a.submit(`<message from="alice@a.example/x" to="bob@b.example"><body>a ${i} ${bytes(150).toString('base64')}</body></message>`);
  // b streams all along (about 20 s of bearer time), so a hears it every few ms.
  for (let i = 0; i < 4000; i++) p.b.submit(`<message from="bob@b.example/y" to="alice@a.example"><body>b ${i} ${bytes(150).toString('base64')}</body></message>`);
  p.drive(100);
  p.ba.setModel({ ...fast, latencyMs: 1_500 }); // b's frames, and its acks of a's data, are late: a's timer fires though nothing was lost
  p.drive(1_600);
  p.ba.setModel(fast);
  const spikeEnd = p.now;
  const fromA = (): number => p.b.received.filter((r) => r.stanza.includes('<body>a ')).length;
  t.true(p.driveUntil(() => fromA() === 300, 30_000), `a's stanzas at b: ${fromA()}/300 (retransmits ${p.a.ep.stats().retransmits})`);
  t.true(p.now - spikeEnd < 8_000, `a's 300 stanzas took ${p.now - spikeEnd} ms after the spike (bearer time ~1.5 s)`);
  t.true(p.b.outbox.size > 0, 'b was still sending meanwhile');
  t.true(p.driveUntil(() => p.idle(), 120_000), 'both drained');
  t.deepEqual([...p.a.duplicates, ...p.b.duplicates], []);
});

test('a bearer faster than the configured rate still gives real RTT samples, not zero', (t) => {
  const p = new Pair({ seed: 59, tuning: { rateBps: 64_000 }, ab: { latencyMs: 40, rateBps: 1_000_000 } });
  const bytes = seededBytes(rng(4));
  for (let i = 0; i < 200; i++) {
    p.a.submit(`<message from="alice@a.example/x" to="bob@b.example"><body>${bytes(150).toString('base64')}</body></message>`);
    p.b.submit(`<message from="bob@b.example/x" to="alice@a.example"><body>${bytes(150).toString('base64')}</body></message>`);
  }
  t.true(p.driveUntil(() => p.idle(), 60_000));
  const rtt = p.a.ep.stats().rttMs!;
  t.true(rtt >= 40, `srtt ${rtt} ms on an 80 ms path (it cannot see the serialisation it was told of)`);
});

/**
 * What the core does for a link over several bearers (LinkEndpoint.useBearer,
 * bearerProbe), on two endpoints joined by hand in simulated time.
 */
import test from 'ava';
import { LinkEndpoint, type LinkTuning } from '../../../src/link/core/index.ts';
import { DEFAULT_TUNING, rng, seededBytes } from '../core/pair.ts';

const key = Buffer.alloc(32, 9);
function end(role: 'a' | 'b', tuning: Partial<LinkTuning>, seed: number): LinkEndpoint {
  return new LinkEndpoint({ tuning: { ...DEFAULT_TUNING, ...tuning }, key, role, localDomains: [`${role}.example`], remoteDomains: [], random: seededBytes(rng(seed)) }, 0);
}
/** Every frame `from` has now, handed to `to`; the deliveries at `to`. */
function cross(from: LinkEndpoint, to: LinkEndpoint, now: number): { frames: Buffer[]; delivered: bigint[] } {
  const frames: Buffer[] = [];
  for (let f = from.pollTransmit(now); f; f = from.pollTransmit(now)) frames.push(f);
  const delivered: bigint[] = [];
  for (const f of frames) to.handleFrame(now, f);
  for (let ev = to.pollEvent(); ev; ev = to.pollEvent()) if (ev.type === 'deliver') { delivered.push(ev.id); to.confirmDelivered(ev.id, now); }
  return { frames, delivered };
}

test('frames as large as the largest bearer mtu are taken while this end sends on a smaller one (receiveMtu)', (t) => {
  const stanza = seededBytes(rng(4))(1100); // random bytes: they stay about 1100 B after deflate
  for (const [receiveMtu, taken] of [[undefined, false], [1500, true]] as const) {
    const a = end('a', { mtu: 1500, frameBytes: 1400 }, 1);
    const b = end('b', { mtu: 600, receiveMtu }, 2);
    a.submit(1n, stanza, 'high', 0);
    const r = cross(a, b, 10);
    t.true(r.frames.some((f) => f.length > 600));
    t.is(r.delivered.length === 1, taken, `receiveMtu ${receiveMtu}`);
    t.is(b.stats().framesDroppedBy.too_big !== undefined, !taken);
  }
});

test('useBearer: what was in flight is resent on the new bearer in its frame size, and delivered once', (t) => {
  const a = end('a', { mtu: 1500, frameBytes: 1200, receiveMtu: 1500 }, 3);
  const b = end('b', { mtu: 1500, receiveMtu: 1500 }, 4);
  cross(b, a, 0); // b's first frame: a knows b's run
  const bytes = seededBytes(rng(5));
  for (let i = 1n; i <= 3n; i++) a.submit(i, bytes(900), 'high', 1);
  const lost = [];
  for (let f = a.pollTransmit(1); f; f = a.pollTransmit(1)) lost.push(f); // on the old bearer, never arrives
  t.true(lost.length >= 2, `${lost.length} frames`);
  a.useBearer(2, 1, { ...DEFAULT_TUNING, mtu: 512, frameBytes: 256, rateBps: 2400, receiveMtu: 1500 });
  t.is(a.stats().inFlight, 0, 'what was in flight is declared lost');
  const r = cross(a, b, 3);
  t.true(r.frames.every((f) => f.length <= 256), `${Math.max(...r.frames.map((f) => f.length))} B`);
  // The pacer now times frames at 2400 bit/s: the rest follows as the line frees.
  const all = [...r.delivered];
  for (let now = 4; all.length < 3 && now < 60_000; now += 100) {
    all.push(...cross(a, b, now).delivered);
    cross(b, a, now);
  }
  t.deepEqual(all, [1n, 2n, 3n]);
  // A copy arriving late over the old bearer changes nothing.
  for (const f of lost) b.handleFrame(70_000, f);
  const again = [];
  for (let ev = b.pollEvent(); ev; ev = b.pollEvent()) if (ev.type === 'deliver') again.push(ev.id);
  t.deepEqual(again, []);
});

test('a bearer probe is taken by the partner, asks for no answer, and its ACK does not declare the frames in flight lost', (t) => {
  const a = end('a', {}, 6);
  const b = end('b', {}, 7);
  cross(b, a, 0);
  cross(a, b, 0);
  cross(b, a, 0);
  const bytes = seededBytes(rng(8));
  for (let i = 1n; i <= 2n; i++) a.submit(i, bytes(300), 'high', 10);
  const slow: Buffer[] = [];
  for (let f = a.pollTransmit(10); f; f = a.pollTransmit(10)) slow.push(f); // in flight on the slow bearer
  t.true(slow.length >= 1);
  // Several probes on the fast bearer, all taken; b owes nothing for them.
  for (let i = 0; i < 5; i++) t.is(b.handleFrame(20 + i, a.bearerProbe(20 + i)!), true);
  t.is(b.stats().framesDropped, 0);
  // b acknowledges them (with its next frame: a PING of its own elicits it).
  const acks: Buffer[] = [];
  for (let now = 30; acks.length === 0 && now < 5000; now += 10) {
    b.handleTimeout(now);
    for (let f = b.pollTransmit(now); f; f = b.pollTransmit(now)) acks.push(f);
  }
  for (const f of acks) a.handleFrame(40, f);
  // Nothing to resend: the frames on the slow bearer are still in flight, not lost by the packet threshold.
  for (let f = a.pollTransmit(41); f; f = a.pollTransmit(41)) void f;
  t.is(a.stats().retransmits, 0);
  for (const f of slow) b.handleFrame(1000, f);
  const got = [];
  for (let ev = b.pollEvent(); ev; ev = b.pollEvent()) if (ev.type === 'deliver') got.push(ev.id);
  t.deepEqual(got, [1n, 2n]);
});

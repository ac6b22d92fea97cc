/**
 * Only the shore has traffic while the ship's NAT rebinds (docs/link-protocol.md
 * §6.2): the ship hears the shore's stream stop, sends a silence PING after
 * one RTO from its new source port, the roaming shore follows, and the flow
 * resumes, instead of waiting for the ship's next keepalive. And an idle link
 * pays nothing for it. Simulated time over the emulator's engine.
 */
import test from 'ava';
import { loadProfile } from '../../../src/config/index.ts';
import { RoamPair } from './roam-pair.ts';
import { rng, seededBytes } from './pair.ts';

/** The ship's keepalive as the relay sets it: the NAT keepalive where the bearer has a NAT timeout. */
function shipKeepaliveS(profile: string): number {
  const t = loadProfile(profile).tuning;
  return Math.min(t.keepalive_s, t.nat_keepalive_s ?? t.keepalive_s);
}

/**
 * The shore sends a stanza of `bytes` (random text: it does not compress)
 * every `everyMs` for `seconds`; the ship only acknowledges. Stanzas larger
 * than a frame keep the ship from owing MSGACKs between frames, so at a
 * rebinding it often has nothing in flight of its own.
 */
function shoreOnly(profile: string, seed: number, rebindEveryS: number, seconds: number, everyMs: number, bytes: number) {
  const p = new RoamPair(profile, seed, { side: 'a', rebind_every_s: rebindEveryS }, shipKeepaliveS(profile), false);
  const text = seededBytes(rng(seed));
  let sent = 0;
  for (let ms = 0; ms < seconds * 1000; ms += everyMs) {
    p.driveUntil(() => p.now >= ms, ms - p.now + 1);
    p.b.submit(`<message to="alice@a.example" from="bob@b.example/x" type="chat"><body>${text(Math.ceil(bytes * 0.75)).toString('base64')}</body></message>`);
    sent++;
  }
  const lastSubmitAt = p.now;
  const drained = p.driveUntil(() => p.idle(), 600_000);
  // The longest wait at the ship between two of the shore's stanzas while the shore kept sending.
  const at = p.a.received.map((r) => r.at).filter((x) => x <= lastSubmitAt);
  let gap = 0;
  for (let i = 1; i < at.length; i++) gap = Math.max(gap, at[i] - at[i - 1]);
  return { p, sent, drained, gap };
}

// lossy-test (64 kbit/s, 110 ms RTT, loss off): 16 KB every 1.6 s is more than the line carries, so the
// shore's stream is always in progress, and the ship owes a MSGACK only once every 14 frames or so.
for (const [profile, every, seconds, everyMs, bytes] of [['lossy-test', 30, 150, 1600, 16000], ['lossy-test', 2, 60, 1600, 16000]] as const) {
  test(`${profile}: shore-only traffic, the ship's NAT rebinding every ${every} s: the stream resumes within 2 RTO + a few RTT`, (t) => {
    for (const seed of [1, 2, 3]) {
      const { p, sent, drained, gap } = shoreOnly(profile, seed, every, seconds, everyMs, bytes);
      const what = `seed ${seed}`;
      t.true(drained, `${what}: not drained`);
      t.is(p.b.received.length, 0, `${what}: the ship sends no stanzas`);
      const nat = p.emu.natState(p.now)!;
      t.true(nat.rebinds >= Math.floor(seconds / every) - 1, `${what}: ${nat.rebinds} rebinds`);
      t.true(p.roam.stats.moves >= Math.floor(seconds / every) - 1, `${what}: the shore followed ${p.roam.stats.moves} times`);
      t.deepEqual(p.a.duplicates, [], `${what}: duplicates`);
      t.is(new Set(p.a.received.map((r) => r.id)).size, sent, `${what}: the shore's stanzas at the ship`);
      t.is(p.a.received.length, sent, `${what}: a stanza delivered twice`);
      const rto = Math.max(p.a.ep.stats().rtoMs, p.b.ep.stats().rtoMs);
      // Two stanzas apart by at least one's line time; a rebinding adds about 2 RTO and a few round trips.
      const bound = 2 * rto + 6 * p.rttMs + (bytes * 8000) / p.profile.bearer.rate_bps;
      t.log(`${what}: ${nat.rebinds} rebinds, longest wait at the ship ${gap} ms (bound ${Math.round(bound)}: RTO ${rto}, RTT ${p.rttMs}); silence pings ${p.a.ep.stats().silencePings}`);
      t.true(gap <= bound, `${what}: the ship waited ${gap} ms for the shore's next stanza (bound ${bound})`);
      t.true(p.a.ep.stats().silencePings > 0, `${what}: the ship pinged`);
      t.is(p.a.metrics.get('link_silence_pings_total'), p.a.ep.stats().silencePings);
    }
  });
}

test('an idle link sends no silence pings: an idle hour after a burst costs what the keepalive costs', (t) => {
  for (const profile of ['starlink-maritime', 'bgan-64k']) {
    const ka = shipKeepaliveS(profile);
    const p = new RoamPair(profile, 5, undefined, ka);
    for (let i = 0; i < 20; i++) p.b.submit(`<message to="alice@a.example" from="bob@b.example/x"><body>hello ${i}</body></message>`);
    t.true(p.driveUntil(() => p.idle() && p.a.received.length === 20, 60_000), profile);
    p.drive(10_000);
    const before = { n: p.emu.stats.ab.sent + p.emu.stats.ba.sent, pings: p.a.ep.stats().silencePings + p.b.ep.stats().silencePings };
    p.drive(3_600_000);
    const n = p.emu.stats.ab.sent + p.emu.stats.ba.sent - before.n;
    t.log(`${profile}: ${before.pings} silence pings in the burst's end; idle hour: ${n} datagrams`);
    t.is(p.a.ep.stats().silencePings + p.b.ep.stats().silencePings, before.pings, `${profile}: no silence ping while idle`);
    // A keepalive PING and its ACK every keepalive interval (plus its round trip), nothing else.
    t.true(n <= 2 * Math.ceil(3_600 / ka), `${profile}: ${n} datagrams in an idle hour`);
  }
});

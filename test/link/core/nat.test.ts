/**
 * NAT and roaming in simulated time, over the emulator's engine with the
 * starlink-maritime profile: the ship (a) sits behind a NAT that gives it a
 * new source port every 30 s; the shore (b) has no peer and follows the ship
 * with the udp driver's sans-IO part (link/drivers/roaming.ts), sending only
 * once it has heard the ship, as the driver does. And the NAT keepalive of
 * the end with peer: its bytes per idle hour against what `check` states.
 */
import test from 'ava';
import { loadProfile, natKeepaliveBytesPerHour } from '../../../src/config/index.ts';
import { RoamPair as RoamPairOf } from './roam-pair.ts';
import type { NatParams } from '../../../src/emulator/index.ts';

const PROFILE = 'starlink-maritime';

class RoamPair extends RoamPairOf {
  constructor(seed: number, nat: NatParams | undefined, shipKeepaliveS?: number) { super(PROFILE, seed, nat, shipKeepaliveS); }
}

test('NAT rebinding every 30 s mid-transfer: the shore follows the ship, nothing lost, nothing twice', (t) => {
  for (const seed of [1, 2, 3]) {
    const what = `seed ${seed}`;
    const p = new RoamPair(seed, { side: 'a', rebind_every_s: 30, timeout_s: 30 });
    const sent = { a: 0, b: 0 };
    // A chat both ways for 160 s: the ship every second, the shore every 1.5 s (queued until it hears the ship).
    for (let ms = 0; ms < 160_000; ms += 500) {
      p.driveUntil(() => p.now >= ms, ms - p.now + 1);
      if (ms % 1000 === 0) { p.a.submit(`<message to="bob@b.example" from="alice@a.example/x" type="chat"><body>ship ${ms}</body></message>`); sent.a++; }
      if (ms % 1500 === 0) { p.b.submit(`<message to="alice@a.example" from="bob@b.example/x" type="chat"><body>shore ${ms}</body></message>`); sent.b++; }
    }
    t.true(p.driveUntil(() => p.idle(), 600_000), `${what}: not drained`);
    const nat = p.emu.natState(p.now)!;
    t.is(nat.rebinds, Math.floor(p.now / 30_000), `${what}: the NAT rebinds every 30 s`);
    t.true(p.roam.stats.moves >= 5, `${what}: the shore followed ${p.roam.stats.moves} times`);
    t.is(p.roam.current?.port, nat.mapping, `${what}: the shore answers at the live mapping`);
    t.deepEqual([...p.a.duplicates, ...p.b.duplicates], [], `${what}: duplicates`);
    t.is(new Set(p.b.received.map((r) => r.id)).size, sent.a, `${what}: ship's stanzas at the shore`);
    t.is(new Set(p.a.received.map((r) => r.id)).size, sent.b, `${what}: shore's stanzas at the ship`);
    t.is(p.a.received.length + p.b.received.length, sent.a + sent.b, `${what}: a stanza delivered twice`);
    t.is(p.b.metrics.get('link_peer_address_changes_total', { link: 'ship', kind: 'moved' }), p.roam.stats.moves);
  }
});

test('NAT keepalive: bytes per idle hour within what check states, and the mapping never expires', (t) => {
  const profile = loadProfile(PROFILE);
  const every = profile.tuning.nat_keepalive_s!;
  t.is(every, 20, '2/3 of the 30 s NAT timeout');
  // The NAT forgets a mapping after 30 s without an outbound datagram: a ship that kept quiet longer would move.
  const p = new RoamPair(7, { side: 'a', timeout_s: profile.bearer.nat_timeout_s! }, Math.min(profile.tuning.keepalive_s, every));
  p.a.submit('<message to="bob@b.example" from="alice@a.example/x"><body>hello</body></message>');
  t.true(p.driveUntil(() => p.idle() && p.b.received.length === 1, 60_000));
  p.drive(30_000); // settle
  const before = { n: p.emu.stats.ab.sent + p.emu.stats.ba.sent, bytes: p.emu.stats.ab.bytes_sent + p.emu.stats.ba.bytes_sent };
  p.drive(3_600_000);
  const n = p.emu.stats.ab.sent + p.emu.stats.ba.sent - before.n;
  const bytes = p.emu.stats.ab.bytes_sent + p.emu.stats.ba.bytes_sent - before.bytes + 28 * n;
  t.log(`idle hour: ${n} datagrams, ${bytes} B with IP/UDP headers; check states ${natKeepaliveBytesPerHour(profile.tuning)} B`);
  t.true(n >= 2 * Math.floor(3600 / (every + 1)), `a ping and its ACK every ${every} s (plus the round trip): ${n} datagrams`);
  t.true(bytes <= natKeepaliveBytesPerHour(profile.tuning), `${bytes} B`);
  t.is(p.emu.natState(p.now)!.rebinds, 0, 'the mapping never expired');
  t.is(p.emu.stats.ba.dropped_nat, 0);

  // Without the NAT keepalive (the profile's 30 s idle keepalive) the mapping expires and the shore must follow.
  const q = new RoamPair(7, { side: 'a', timeout_s: profile.bearer.nat_timeout_s! }, profile.tuning.keepalive_s);
  q.a.submit('<message to="bob@b.example" from="alice@a.example/x"><body>hello</body></message>');
  q.driveUntil(() => q.idle() && q.b.received.length === 1, 60_000);
  q.drive(600_000);
  t.true(q.emu.natState(q.now)!.rebinds > 0, 'a 30 s keepalive lets a 30 s NAT mapping expire');
});

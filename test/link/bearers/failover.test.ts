/**
 * A link over two bearers in simulated time (sim-pair.ts): the primary is
 * cut in the middle of a burst; the link fails over to the backup, every
 * stanza arrives exactly once (those in flight on the primary when it went
 * dark included), and once the primary is back for the hold-down time the
 * link fails back to it. Deterministic: each case runs a few seeds and a
 * failure names its seed.
 */
import test from 'ava';
import { SimPair, type SimEnd } from './sim-pair.ts';

const SEEDS = [1, 2, 3];

/** Stanzas delivered more than once, and ids never delivered, of 1..n. */
function check(end: SimEnd, n: number): { missing: bigint[]; dups: bigint[] } {
  const count = new Map<bigint, number>();
  for (const d of end.delivered) count.set(d.id, (count.get(d.id) ?? 0) + 1);
  const missing: bigint[] = [];
  for (let i = 1n; i <= BigInt(n); i++) if (!count.has(i)) missing.push(i);
  return { missing, dups: [...count].filter(([, c]) => c > 1).map(([id]) => id) };
}

interface Run { pair: SimPair; n: number; cutAt: number; backAt: number; inFlightAtCut: number }

/** a sends a stanza every `everyMs` from 1 s to `untilMs`; the primary is dark over [cutAt, backAt). */
async function burst(profiles: string[], seed: number, o: { loss?: boolean; cutAt: number; backAt: number; untilMs: number; everyMs: number; endMs: number; holdDownMs?: number }): Promise<Run> {
  const pair = new SimPair({ profiles, seed, holdDownMs: o.holdDownMs, loss: o.loss ?? true });
  await pair.start();
  pair.outage(0, o.cutAt, o.backAt - o.cutAt);
  let n = 0;
  let inFlightAtCut = -1;
  for (let t = 1000; t <= o.untilMs; t += o.everyMs) {
    pair.runUntil(t);
    if (inFlightAtCut < 0 && t >= o.cutAt) inFlightAtCut = n - pair.b.delivered.length;
    pair.a.submit(300);
    n++;
  }
  pair.runUntil(o.endMs);
  return { pair, n, cutAt: o.cutAt, backAt: o.backAt, inFlightAtCut };
}

// vsat-1m's loss model is its rain fades (Gilbert-Elliott: half the frames lost for minutes), which
// may take the primary down again at any time: that pair runs without the profiles' loss.
for (const [primary, backup, loss] of [['starlink-maritime', 'iridium-2400', true], ['vsat-1m', 'bgan-64k', false]] as const) {
  test(`${primary} + ${backup}: the primary cut mid-burst: failover within 10 s, failback after the hold-down, every stanza once`, async (t) => {
    for (const seed of SEEDS) {
      const r = await burst([primary, backup], seed, { loss, cutAt: 20_000, backAt: 80_000, untilMs: 140_000, everyMs: 500, endMs: 400_000 });
      const { pair } = r;
      const why = `seed ${seed}`;
      const { missing, dups } = check(pair.b, r.n);
      t.deepEqual(missing, [], `${why}: stanzas never delivered`);
      t.deepEqual(dups, [], `${why}: stanzas delivered twice`);
      t.is(pair.a.acked.size, r.n, `${why}: every stanza acknowledged to the sender`);
      // Stanzas were on the primary when it went dark: they crossed later, on the backup, once.
      t.true(r.inFlightAtCut >= 0, why);
      const overBackup = pair.b.delivered.filter((d) => d.bearer === 1);
      t.true(overBackup.length > 0, `${why}: nothing went over the backup`);
      const failoverMs = overBackup[0].at - r.cutAt;
      t.true(failoverMs <= 10_000, `${why}: failover took ${failoverMs} ms`);
      // Back on the primary after it returned and was up for the hold-down time.
      const backOnPrimary = pair.b.delivered.find((d) => d.bearer === 0 && d.at >= r.backAt);
      t.truthy(backOnPrimary, `${why}: traffic never returned to the primary`);
      t.true(backOnPrimary!.at - r.backAt >= 20_000, `${why}: failed back before the hold-down (${backOnPrimary!.at - r.backAt} ms)`);
      const sw = pair.a.driver.switches();
      t.deepEqual(sw, { failovers: 1, failbacks: 1 }, why);
      t.deepEqual(pair.a.switchedTo, [`2:${backup}`, `1:${primary}`], why);
      // One log line each, with its cause.
      const lines = pair.a.logs.filter((l) => /^link (failover|failback) to bearer/.test(l.msg));
      t.is(lines.length, sw.failovers + sw.failbacks, why);
      t.regex(String(lines[0].fields.cause), /down: nothing heard on it for/, why);
      t.regex(String(lines[1].fields.cause), /up again for .* \(failback_hold_s 20\)/, why);
      t.is(pair.a.metrics.get('link_bearer_failovers_total', { link: 'link', bearer: `2:${backup}` }), sw.failovers, why);
      t.is(pair.a.metrics.get('link_bearer_failbacks_total', { link: 'link', bearer: `1:${primary}` }), sw.failbacks, why);
      t.is(pair.a.metrics.get('link_bearer_current', { link: 'link', bearer: `1:${primary}` }), 1, why);
      const st = pair.a.driver.bearers();
      t.true(st[0].current && st[0].up && !st[1].current, why);
      t.true(st[1].bytesSent > 0 && st[1].bytesReceived > 0, why);
    }
  });
}

test('a primary that never answers: the link moves to the backup and stays there while the primary is dark', async (t) => {
  for (const seed of SEEDS) {
    const r = await burst(['starlink-maritime', 'iridium-2400'], seed, { cutAt: 0, backAt: 10_000_000, untilMs: 30_000, everyMs: 1000, endMs: 300_000 });
    const { missing, dups } = check(r.pair.b, r.n);
    t.deepEqual([missing, dups], [[], []], `seed ${seed}`);
    t.true(r.pair.b.delivered.every((d) => d.bearer === 1), `seed ${seed}: a stanza crossed the dark primary`);
    t.deepEqual(r.pair.a.driver.switches(), { failovers: 1, failbacks: 0 }, `seed ${seed}`);
    t.false(r.pair.a.driver.bearers()[0].up, `seed ${seed}`);
  }
});

test('an idle link: probes keep both bearers up, at the cost check states, and nothing switches', async (t) => {
  const pair = new SimPair({ profiles: ['starlink-maritime', 'iridium-2400'], seed: 5, loss: false });
  await pair.start();
  pair.runUntil(3_600_000);
  t.deepEqual(pair.a.driver.switches(), { failovers: 0, failbacks: 0 });
  const [p, b] = pair.a.driver.bearers();
  t.true(p.up && p.current && b.up && !b.current);
  // The backup carries only probes: one every 60 s (iridium-2400 keepalive_s), each a frame of at most 32 B.
  t.log(`idle hour: ship sent ${b.bytesSent} B on the backup, ${p.bytesSent} B on the primary`);
  t.true(b.bytesSent <= 61 * 32, `${b.bytesSent} B on the idle backup`);
  t.true(b.bytesSent >= 59 * 20);
  // The idle primary: a probe every 1.7 s (failover_after_s 5 / 3) plus the core's NAT keepalives.
  t.true(p.bytesSent <= Math.ceil(3600 / 1.7 + 181) * 32, `${p.bytesSent} B on the idle primary`);
});

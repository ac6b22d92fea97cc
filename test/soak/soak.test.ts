/**
 * The soak runner, short: two relay processes over the emulator with the
 * mixed workload and one fault of every kind forced (bearer outage, loss
 * burst, kill -9 of each relay, restart of each site's XMPP server, a full
 * disk under each relay's spool). Asserts the ledger only: every stanza
 * delivered exactly once or answered with an error, none lost, none doubled,
 * no relay exiting by itself. Timing and memory figures belong to
 * `npm run soak`, not here.
 */
import test from 'ava';
import { runSoak, formatSoakSummary } from '../../bench/soak/soak.ts';
import { parseFaults } from '../../bench/soak/faults.ts';
import { CRASH_WINDOW_MS } from '../../bench/soak/ledger.ts';

test('soak (short): every fault kind once; zero lost, zero duplicated, every refusal answered', async (t) => {
  t.timeout(120_000);
  const result = await runSoak({
    durationMs: 30_000,
    profile: 'bgan-64k',
    seed: 11,
    rate: 10,
    // Disk-full first: the spool has to grow to meet it (later the free pages of acked stanzas would do).
    faults: parseFaults('disk-full:a:5000,disk-full:b:5000,outage:4000,loss-burst:4000:0.7,kill-relay:a:1500,kill-relay:b:1500,server-restart:a:1500,server-restart:b:1500'),
    gapMs: [1_000, 2_000],
    warmupMs: 4_000,
    drainMs: 40_000,
    tuning: 'keepalive_s: 1, rto_max_ms: 2000',
    sampleMs: 1_000,
    progressMs: 10_000,
    // Memory bounds are judged by npm run soak; a test run is too short for them.
    rssGrowthMb: 1_000_000,
    fdGrowth: 1_000_000,
    log: (line) => t.log(line),
  });
  t.log(formatSoakSummary(result));
  const v = result.ledger;
  const kinds = Object.keys(result.faults.injected);
  for (const k of ['outage', 'loss-burst', 'kill-relay-a', 'kill-relay-b', 'server-restart-a', 'server-restart-b']) t.true(kinds.includes(k), `${k} injected`);
  if (result.faults.skipped.length === 0) t.true(kinds.includes('disk-full-a') && kinds.includes('disk-full-b'), 'disk-full injected');
  else t.log(result.faults.skipped.join('\n'));
  t.true(v.sent > 100, 'traffic flowed');
  t.true(v.delivered > 0 && v.bounced > 0, 'some stanzas delivered, some refused');
  t.is(v.lost, 0, 'lost');
  // README's one open window: a relay killed between writing a stanza to its local server and recording it.
  t.is(v.duplicated - v.crashWindowDuplicates, 0, 'duplicated outside the crash window');
  t.true(v.crashWindowDuplicates <= 4, `${v.crashWindowDuplicates} duplicated by a relay killed within ${CRASH_WINDOW_MS} ms of the first delivery (2 kills)`);
  t.is(v.deliveredAndBounced, 0, 'delivered and bounced');
  t.is(v.bouncedTwice, 0, 'bounced twice');
  t.is(v.unexpected, 0, 'unexpected arrivals');
  t.true(result.drained, 'the pair drained');
  t.deepEqual(result.relays.map((r) => r.crashes), [0, 0], 'no relay exited by itself');
  t.deepEqual(result.failures, []);
  // The outage is reported with when sending resumed and what was spent while dark.
  t.is(result.outages.length, 1);
  t.is(result.outages[0].durationMs, 4000);
  t.is(typeof result.outages[0].resumeMs, 'number', 'a stanza crossed after the bearer returned');
  t.true(result.outages[0].probeBytes! > 0, 'the relays probed while dark');
});

/**
 * A burst accepted in one event-loop turn is committed to the spool in one
 * commit; the outbox then packs all of it for its first record commit. Packing
 * at the first stanza to settle would record it alone and hold the rest of the
 * burst for another commit before anything reached the core (seen as ~50 ms
 * more before the first frame of a burst on a loaded relay).
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStanzas } from '../../../src/link/constrained/index.ts';
import { Outbox, type OutboxSpool } from '../../../src/link/constrained/outbox.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { silentLogger } from '../../../src/obs/log.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { x } from '../../../src/xml/element.ts';
import { until } from '../../helpers/until.ts';

test('stanzas of one commit go into the first record together, in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-outbox-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 22, maxStanzas: 10_000 });
  t.teardown(() => spool.close());
  // The spool as the outbox sees it, with each record commit's stanza count noted.
  const recorded: number[] = [];
  const counting: OutboxSpool = {
    nextId: (l) => spool.nextId(l),
    accept: (l, s, m) => spool.accept(l, s, m),
    ack: (l, id) => spool.ack(l, id),
    assignGroups: (l, groups) => {
      recorded.push(groups.reduce((n, g) => n + g.ids.length, 0));
      return spool.assignGroups(l, groups);
    },
    ackGroup: (l, gid) => spool.ackGroup(l, gid),
    groups: (l) => spool.groups(l),
    acceptedAt: (l, id) => spool.acceptedAt(l, id),
    entry: (l, id) => spool.entry(l, id),
    damagedOut: (l, id) => spool.damagedOut(l, id),
    pending: (l) => spool.pending(l),
  };
  const submitted: Buffer[] = [];
  const outbox = new Outbox({
    name: 'shore',
    spool: counting,
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
    clock: new ManualClock(),
    coreTarget: 64,
    frameBytes: 1200,
    maxStanzaBytes: 65_536,
    heldTimeoutMs: 60_000,
    metrics: new Metrics(),
    log: silentLogger,
    failed: (m) => t.fail(m),
  });
  outbox.start({
    core: { submit: (_id, stanza) => void submitted.push(stanza), waitingCount: () => 0, cancel: () => false, stats: () => ({ compressedBytesOut: 0, stanzaBytesOut: 0 }) },
    poke: () => undefined,
    bounce: () => t.fail('nothing is bounced'),
    damaged: () => undefined,
  });

  const N = 40;
  const els = Array.from({ length: N }, (_, i) => x('message', { from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat', id: `m${i}` }, x('body', {}, `burst ${i}`)));
  // Handed in within one turn, as a read of a local server's burst does.
  await Promise.all(els.map((el) => outbox.accept(el, el.toBuffer())));
  await until(() => submitted.length > 0, 'first link messages submitted');

  t.deepEqual(recorded, [N], 'one record commit for the whole burst');
  const ids = submitted.flatMap((m) => parseStanzas(m, 65_536).map((el) => el.attr('id')));
  t.deepEqual(ids, els.map((el) => el.attr('id')), 'every stanza, in the order accepted');
});

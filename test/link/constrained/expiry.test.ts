/**
 * Held too long while the partner is away: stanzas the link protocol never put
 * on the bearer are bounced with remote-server-timeout and leave the spool;
 * those already sent stay spooled (they may have arrived). The link runs on
 * simulated time (a ManualClock): its expiry tick, the core's pacing and
 * timeouts fire only when the test moves the clock.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConstrainedLink } from '../../../src/link/constrained/index.ts';
import { transportDriver } from '../../../src/link/drivers/index.ts';
import { OutboundQueue } from '../../../src/optimize/index.ts';
import { Spool } from '../../../src/spool/index.ts';
import { x, type XmlElement } from '../../../src/xml/element.ts';
import type { StanzaError } from '../../../src/xmpp/errors.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { freeUdpPort } from '../../helpers/ports.ts';
import { until } from '../../helpers/until.ts';

test('expiry bounces never-sent stanzas and keeps the ones on the bearer', async (t) => {
  t.timeout(15_000);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-expiry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  const bounced: Array<{ el: XmlElement; err: StanzaError }> = [];
  const clock = new ManualClock();
  const link = new ConstrainedLink({
    name: 'shore',
    domains: ['b.example'],
    localDomains: ['a.example'],
    // Nobody answers at the peer address; two frames in flight at 1200 bit/s (one is the start-up probe).
    driver: transportDriver({ kind: 'udp', bind: `127.0.0.1:${await freeUdpPort()}`, peer: `127.0.0.1:${await freeUdpPort()}` }),
    tuning: { mtu: 256, frameBytes: 256, windowFrames: 2, rateBps: 1200, rtoMinMs: 20_000, rtoMaxMs: 60_000, ackDelayMs: 50, keepaliveS: 30, compressionLevel: 6 },
    key: randomBytes(32),
    spool,
    heldTimeoutMs: 300,
    maxStanzaBytes: 65_536,
    clock,
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
  });
  await link.start({ deliver: () => undefined, undeliverable: (el, err) => void bounced.push({ el, err }) });
  t.teardown(() => link.stop());
  const N = 20;
  for (let i = 0; i < N; i++) {
    await link.send(x('message', { from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat', id: `e${i}` }, x('body', {}, `held ${i} ${randomBytes(24).toString('hex')}`)));
  }
  // The link records its first messages (a spool commit) and hands them to the core.
  await until(() => spool.groups('shore').length > 0, 'link messages recorded');
  // 4.9 s: older than the 300 ms hold time, but the expiry tick (every 5 s) has not come.
  for (let ms = 0; ms < 4900; ms += 100) {
    clock.advance(100);
    await new Promise((r) => setImmediate(r));
  }
  t.is(bounced.length, 0, 'nothing bounced before the tick');
  clock.advance(100);
  t.true(bounced.length > 0, 'held stanzas were bounced');
  // Bounced link messages leave the spool once their removal commits (disk I/O, no timer).
  await until(() => bounced.length + spool.pending('shore').length === N, 'every stanza either bounced or still spooled, none both', 5000);
  t.true(bounced.every((b) => b.err.condition === 'remote-server-timeout'));
  const left = spool.pending('shore').length;
  t.true(left > 0, 'what went on the bearer stays spooled');
  t.is(bounced.length + left, N, 'every stanza is either bounced or still spooled');
  t.is(new Set(bounced.map((b) => b.el.attr('id'))).size, bounced.length, 'nothing bounced twice');
});

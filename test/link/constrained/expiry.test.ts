/**
 * Held too long while the partner is away: stanzas the link protocol never put
 * on the bearer are bounced with remote-server-timeout and leave the spool;
 * those already sent stay spooled (they may have arrived).
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
import { freeUdpPort } from '../../helpers/ports.ts';

test('expiry bounces never-sent stanzas and keeps the ones on the bearer', async (t) => {
  t.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-expiry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  const bounced: Array<{ el: XmlElement; err: StanzaError }> = [];
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
    scheduler: new OutboundQueue({ coalescePresence: false, fanout: false }),
  });
  await link.start({ deliver: () => undefined, undeliverable: (el, err) => void bounced.push({ el, err }) });
  t.teardown(() => link.stop());
  const N = 20;
  for (let i = 0; i < N; i++) {
    await link.send(x('message', { from: 'alice@a.example/r', to: 'bob@b.example', type: 'chat', id: `e${i}` }, x('body', {}, `held ${i} ${randomBytes(24).toString('hex')}`)));
  }
  const end = Date.now() + 15_000;
  while (bounced.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 300));
  t.true(bounced.length > 0, 'held stanzas were bounced');
  t.true(bounced.every((b) => b.err.condition === 'remote-server-timeout'));
  const left = spool.pending('shore').length;
  t.true(left > 0, 'what went on the bearer stays spooled');
  t.is(bounced.length + left, N, 'every stanza is either bounced or still spooled');
  t.is(new Set(bounced.map((b) => b.el.attr('id'))).size, bounced.length, 'nothing bounced twice');
});

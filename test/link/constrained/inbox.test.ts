/**
 * The inbox on simulated time with a real spool: a received link message is
 * stored, confirmed to the core, then handed over stanza by stanza; of a
 * message handed over in part, what is left is recorded once per clock turn,
 * so a restart replays only that.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inbox } from '../../../src/link/constrained/inbox.ts';
import { Spool, SpoolError } from '../../../src/spool/index.ts';
import { STORE_RETRY_MS } from '../../../src/link/constrained/retry.ts';
import { ManualClock } from '../../../src/time/index.ts';
import { Metrics } from '../../../src/obs/metrics.ts';
import { silentLogger } from '../../../src/obs/log.ts';
import type { XmlElement } from '../../../src/xml/element.ts';
import { until } from '../../helpers/until.ts';

const m = (i: number): string => `<message xmlns="jabber:server" from="alice@b.example/r" to="bob@a.example" id="m${i}"><body>${i}</body></message>`;

test('a message handed over in part: confirmed once stored, the rest recorded on the next clock turn, replayed after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-inbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  let spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  const clock = new ManualClock();
  const confirmed: bigint[] = [];
  const handed: string[] = [];
  const away = new Map<string, (err: Error) => void>();
  const inbox = new Inbox({ name: 'l', spool, clock, maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  inbox.start({
    confirm: (id) => void confirmed.push(id),
    // m1 reaches its server; m2 and m3 wait for a local server that is away.
    deliver: (el: XmlElement) => {
      const id = el.attr('id')!;
      handed.push(id);
      return id === 'm1' ? undefined : new Promise<void>((_, reject) => void away.set(id, reject));
    },
  });
  inbox.delivered(1n, Buffer.from(m(1) + m(2) + m(3)));
  await until(() => handed.length === 3, 'all three handed over');
  t.deepEqual(confirmed, [1n], 'confirmed to the core once stored');
  t.is(spool.inboundPending('l')[0].stanza.toString(), m(1) + m(2) + m(3), 'nothing recorded before the clock turns');
  clock.advance(0);
  await until(() => spool.inboundPending('l')[0].stanza.toString() === m(2) + m(3), 'the rest recorded');
  // The relay stops: the two waiting stanzas are kept for the next start.
  for (const reject of away.values()) reject(new Error('relay stopping'));
  await inbox.stop();
  await spool.close();

  spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  const again: string[] = [];
  const next = new Inbox({ name: 'l', spool, clock, maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  next.start({ confirm: () => undefined, deliver: (el) => void again.push(el.attr('id')!) });
  await next.stop();
  t.deepEqual(again, ['m2', 'm3'], 'only what was not handed over is replayed');
  t.is(spool.inboundPending('l').length, 0, 'and then forgotten');
});

/** The real spool, its receive() watched: how many earlier stores had finished when each began; `fails` ids fail that many stores first (a disk error). */
function watched(spool: Spool, fails: Map<bigint, number> = new Map()) {
  const finishedAtStart: number[] = [];
  let finished = 0;
  const s = {
    receive: (...a: Parameters<Spool['receive']>) => {
      finishedAtStart.push(finished);
      const left = fails.get(a[1]) ?? 0;
      if (left > 0) {
        fails.set(a[1], left - 1);
        return Promise.reject(new SpoolError('SPOOL_IO', 'disk error'));
      }
      return spool.receive(...a).finally(() => void finished++);
    },
    advanceDeliveredUpTo: spool.advanceDeliveredUpTo.bind(spool),
    inboundPending: spool.inboundPending.bind(spool),
    keepInbound: spool.keepInbound.bind(spool),
    handedOver: spool.handedOver.bind(spool),
  };
  return { s, finishedAtStart };
}

test('messages delivered while earlier ones are being stored are stored together, then confirmed and handed over in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-inbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  const { s, finishedAtStart } = watched(spool);
  const confirmed: bigint[] = [];
  const handed: string[] = [];
  const inbox = new Inbox({ name: 'l', spool: s, clock: new ManualClock(), maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  inbox.start({ confirm: (id) => void confirmed.push(id), deliver: (el) => void handed.push(el.attr('id')!) });
  for (const i of [1, 2, 3, 4]) inbox.delivered(BigInt(i), Buffer.from(m(i)));
  await until(() => handed.length === 4, 'all four handed over');
  // All four stores begin before any has finished (one commit), where each used to wait for the one before.
  t.deepEqual(finishedAtStart, [0, 0, 0, 0]);
  t.deepEqual(confirmed, [1n, 2n, 3n, 4n]);
  t.deepEqual(handed, ['m1', 'm2', 'm3', 'm4']);
  await inbox.stop();
  t.is(spool.inboundPending('l').length, 0, 'all handed over and forgotten');
});

test('a message of a batch whose store fails is stored again on its own; confirmation and hand-over keep their order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-inbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spool = Spool.open(dir, { maxBytes: 1 << 20, maxStanzas: 1000 });
  t.teardown(() => spool.close());
  // m3 fails in the batch and once more on its own: it waits a retry interval, m4 behind it.
  const { s } = watched(spool, new Map([[3n, 2]]));
  const clock = new ManualClock();
  const confirmed: bigint[] = [];
  const handed: string[] = [];
  const inbox = new Inbox({ name: 'l', spool: s, clock, maxStanzaBytes: 65_536, metrics: new Metrics(), log: silentLogger, failed: () => undefined });
  inbox.start({ confirm: (id) => void confirmed.push(id), deliver: (el) => void handed.push(el.attr('id')!) });
  for (const i of [1, 2, 3, 4]) inbox.delivered(BigInt(i), Buffer.from(m(i)));
  await until(() => handed.length === 2, 'the two before the failed one handed over');
  t.deepEqual(confirmed, [1n, 2n], 'the one behind the failed store waits');
  clock.advance(STORE_RETRY_MS);
  await until(() => handed.length === 4, 'all four handed over');
  t.deepEqual(confirmed, [1n, 2n, 3n, 4n]);
  t.deepEqual(handed, ['m1', 'm2', 'm3', 'm4']);
  await inbox.stop();
  t.is(spool.inboundPending('l').length, 0, 'all stored once, handed over and forgotten');
});

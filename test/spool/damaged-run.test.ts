/**
 * A stopped relay's spool damaged on disk, then `satrelay run` again (real
 * processes, real files): a flipped byte in lmdb's meta page made the relay
 * die of SIGSEGV with no log line, 64 random bytes over a page gave
 * MDB_BAD_TXN or a glibc abort. Now the relay moves the spool aside, says so
 * in one error line and a metric, and the link carries traffic both ways on
 * a fresh spool (the partner accepts its new link message ids). What lmdb can
 * still read of the set-aside spool is bounced to its senders.
 */
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyText } from '../../src/config/index.ts';
import { x } from '../../src/xml/element.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.ts';
import { crossFreeListRoot, flipMetaByte, rootPageOf, smashPage } from '../helpers/lmdb-damage.ts';
import { StanzaError } from '../../src/xmpp/errors.ts';
import { localServer, logLines, metric, relaySite, startRelay, untilAsync } from '../helpers/relay-proc.ts';

// readable: whether lmdb can still read the held stanzas, so that they are bounced. A flipped
// meta byte may hit the older of lmdb's two meta pages (their roles alternate with each commit):
// then lmdb still reads the held stanzas, else none; the log line says how many it read.
const damage: Record<string, { apply: (dir: string) => void; readable: boolean | 'as logged' }> = {
  'a flipped byte in the meta page': { apply: (dir: string) => flipMetaByte(dir, 24 + 1, 0x10), readable: 'as logged' },
  '64 random bytes over a page': { apply: (dir: string) => smashPage(dir, rootPageOf(dir, 'out'), 24, 64, 11), readable: false },
  'a free list pointing into the main tree': { apply: crossFreeListRoot, readable: true },
};

for (const [kind, { apply, readable }] of Object.entries(damage)) {
  test.serial(`${kind} of a stopped relay's spool: it starts on a fresh spool, says so, and the link carries traffic both ways`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'satrelay-damaged-run-'));
    const logA = join(dir, 'relay-A.log');
    t.teardown(() => {
      if (!t.passed) t.log(logLines(logA).slice(-12).map((l) => JSON.stringify(l)).join('\n'));
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(dir, 'link.key'), generateKeyText(), { mode: 0o600 });
    const [ua, ub] = [await freeUdpPort(), await freeUdpPort()];
    const [sA, sB, mA, mB] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
    const got: Record<'a' | 'b', string[]> = { a: [], b: [] };
    const bounced: Array<{ id: string; condition?: string }> = [];
    const peerA = localServer({
      dir,
      served: 'a.example',
      local: 'b.example',
      relayPort: sA,
      onStanza: (el) => {
        if (el.local !== 'message') return;
        if (el.attr('type') === 'error') bounced.push({ id: el.attr('id')!, condition: StanzaError.fromStanza(el)?.condition });
        else got.a.push(el.attr('id')!);
      },
    });
    const peerB = localServer({ dir, served: 'b.example', local: 'a.example', relayPort: sB, onStanza: (el) => void (el.local === 'message' && got.b.push(el.attr('id')!)) });
    await peerA.start();
    await peerB.start();
    t.teardown(() => peerA.stop());
    t.teardown(() => peerB.stop());
    const keyFile = join(dir, 'link.key');
    const fileA = relaySite({ dir, name: 'ship', domain: 'a.example', remote: 'b.example', s2s: sA, route: peerA.addresses[0].port, bind: ua, peer: ub, metrics: mA, keyFile });
    const fileB = relaySite({ dir, name: 'shore', domain: 'b.example', remote: 'a.example', s2s: sB, route: peerB.addresses[0].port, bind: ub, peer: ua, metrics: mB, keyFile });
    const procs: Record<'A' | 'B', ChildProcess | undefined> = { A: undefined, B: undefined };
    t.teardown(() => {
      procs.A?.kill('SIGKILL');
      procs.B?.kill('SIGKILL');
    });
    const up = (side: 'A' | 'B') => {
      procs[side] = startRelay(side === 'A' ? fileA : fileB, join(dir, `relay-${side}.log`));
      return untilAsync(`relay ${side} answering`, async () => (await metric(side === 'A' ? mA : mB, 'satrelay_uptime_seconds')) >= 0, 60_000); // a bound: a loaded machine starts a relay on a damaged spool slowly
    };
    const down = async (side: 'A' | 'B') => {
      const p = procs[side]!;
      p.kill('SIGTERM');
      if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
    };
    const send = (from: typeof peerA, a: string, b: string, prefix: string, n: number) => {
      for (let i = 0; i < n; i++) from.deliver(x('message', { from: `u@${a}/r`, to: `v@${b}`, type: 'chat', id: `${prefix}${i}` }, x('body', {}, `${prefix} ${i}`)));
    };

    await up('A');
    await up('B');
    send(peerA, 'a.example', 'b.example', 'x', 5);
    send(peerB, 'b.example', 'a.example', 'y', 5);
    await untilAsync('first traffic both ways', () => got.b.length === 5 && got.a.length === 5, 30_000);
    // Delivered is not yet acknowledged: wait until the ship's spool has let the first five go, so what it holds below is the five sent while the shore is away.
    await untilAsync('first traffic acknowledged', async () => (await metric(mA, 'satrelay_spool_acked_total')) >= 5, 20_000);
    // The shore goes away; the ship holds what it takes now in its spool.
    await down('B');
    send(peerA, 'a.example', 'b.example', 'h', 5);
    await untilAsync('held stanzas spooled', async () => (await metric(mA, 'satrelay_spool_accepted_total')) >= 10, 20_000);
    await down('A');
    const spoolDir = join(dir, 'ship', 'spool', 'partner');
    apply(spoolDir);

    await up('A');
    await up('B');
    t.is(await metric(mA, 'satrelay_spool_quarantined_total'), 1);
    const line = logLines(logA).find((l) => String(l.msg).startsWith('SPOOL DAMAGED'));
    t.truthy(line, 'one error line says the spool was moved aside');
    t.is(line?.level, 50);
    const aside = readdirSync(join(dir, 'ship', 'spool')).filter((f) => f.startsWith('partner.corrupt-'));
    t.is(aside.length, 1);
    t.is(line?.moved_to, join(dir, 'ship', 'spool', aside[0]));
    t.true(existsSync(join(dir, 'ship', 'spool', aside[0], 'data.mdb')), 'the damaged file is kept for inspection');

    send(peerA, 'a.example', 'b.example', 'n', 10);
    send(peerB, 'b.example', 'a.example', 'r', 10);
    await untilAsync('traffic both ways after the restart', () => got.b.filter((i) => i.startsWith('n')).length === 10 && got.a.filter((i) => i.startsWith('r')).length === 10, 30_000);
    t.deepEqual(got.b.filter((i) => i.startsWith('n')), Array.from({ length: 10 }, (_, i) => `n${i}`), 'the partner takes the fresh spool\'s messages, in order');
    t.is(procs.A!.exitCode, null, 'the relay runs');
    const held = Array.from({ length: 5 }, (_, i) => `h${i}`);
    t.false(got.b.some((i) => i.startsWith('h')), 'nothing of the set-aside spool delivered');
    const logged = (line?.read as { outbound?: number } | undefined)?.outbound;
    const expected = readable === 'as logged' ? logged : readable ? 5 : 0;
    t.true(typeof expected === 'number' && expected >= 0 && expected <= 5, `the log says how many held stanzas lmdb read (${logged})`);
    if (readable !== 'as logged') t.is(logged, expected, 'the log counts what lmdb read');
    if (expected) {
      await untilAsync('the held stanzas lmdb read bounced', () => bounced.length === expected, 20_000);
      t.is(new Set(bounced.map((b) => b.id)).size, expected, 'each once');
      for (const b of bounced) t.deepEqual([held.includes(b.id), b.condition], [true, 'internal-server-error'], b.id);
    } else t.deepEqual(bounced, [], 'lmdb cannot read them: nothing to bounce (the log says so)');
  });
}

/**
 * The spool on a full disk (ENOSPC, a small tmpfs filled up): writes are
 * refused with SPOOL_DISK_FULL, the process does not crash (lmdb rejects
 * promises of its own nobody holds), nothing accepted before is lost, and
 * once space is freed the spool takes stanzas again. Needs root (mount);
 * skipped otherwise.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spool, SpoolDiskFullError } from '../../src/spool/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { tryMountTmpfs, fillDisk } from '../../bench/soak/disk.ts';
import { scriptArgs } from '../helpers/cli.ts';

/** A tmpfs of `mb` MiB mounted for the test, unmounted and removed at teardown; undefined when mount is not permitted. */
function smallDisk(t: { teardown(fn: () => void): void }, mb: number): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-diskfull-'));
  if (!tryMountTmpfs(dir, mb)) {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

const canMount = (() => {
  const probe = mkdtempSync(join(tmpdir(), 'satrelay-mountprobe-'));
  const ok = tryMountTmpfs(probe, 1);
  if (ok) execFileSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();
const maybe = canMount ? test.serial : test.skip;

maybe('a full disk refuses accepts with SPOOL_DISK_FULL; accepted stanzas survive; space freed, accepts resume', async (t) => {
  const disk = smallDisk(t, 4)!;
  const dir = join(disk, 'spool');
  mkdirSync(dir);
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  const stanza = Buffer.alloc(500, 'x');
  const before: bigint[] = [];
  for (let i = 0; i < 40; i++) before.push(await sp.accept('l', stanza, { priority: 'high', acceptedAt: Date.now() }));
  for (let i = 1; i <= 10; i++) t.true(await sp.receive('l', BigInt(i), stanza));
  fillDisk(join(disk, 'filler'));

  // Inbound and link-message records refused while full leave no trace in memory,
  // so that the same id can be stored (not taken for a duplicate) once there is room.
  const big = Buffer.alloc(200_000, 'z');
  const inRefused = await sp.receive('l', 11n, big).then(() => undefined, (e: unknown) => e);
  t.true(inRefused instanceof SpoolDiskFullError, `receive refused: ${String(inRefused)}`);
  t.is(sp.deliveredUpTo('l'), 10n);
  const gid = sp.nextGroupId('l');
  const grpRefused = await sp.assignGroups('l', [{ ids: [before[0]], stanza: big, priority: 'high' }]).then(() => undefined, (e: unknown) => e);
  t.true(grpRefused instanceof SpoolDiskFullError, `assignGroups refused: ${String(grpRefused)}`);
  t.is(sp.nextGroupId('l'), gid, 'the refused group id is given back');

  const refused: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    try {
      await sp.accept('l', stanza, { priority: 'high', acceptedAt: Date.now() });
    } catch (err) {
      refused.push(err);
    }
  }
  t.true(refused.length > 0, 'the full disk refused some accepts');
  t.true(refused.every((e) => e instanceof SpoolDiskFullError && e.code === 'SPOOL_DISK_FULL'));
  // Hand-overs and acks while full do not throw (retried in the background if they fail).
  for (let i = 1; i <= 10; i++) await sp.handedOver('l', BigInt(i));
  for (const id of before.slice(0, 10)) await sp.ack('l', id);

  rmSync(join(disk, 'filler'));
  t.true(await sp.receive('l', 11n, stanza), 'the refused inbound id is stored on retry');
  t.is(sp.deliveredUpTo('l'), 11n);
  t.deepEqual(await sp.assignGroups('l', [{ ids: [before[10]], stanza, priority: 'high' }]), [gid]);
  const after = await sp.accept('l', stanza, { priority: 'high', acceptedAt: Date.now() });
  t.true(after > before.at(-1)!);
  const live = sp.pending('l').map((e) => e.id);
  await sp.close();

  const again = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  t.teardown(() => again.close());
  const ids = again.pending('l').map((e) => e.id);
  t.deepEqual(ids, live, 'the reopened spool holds exactly what was live');
  for (const id of before.slice(10)) t.true(ids.includes(id), `accepted ${id} survived`);
  t.deepEqual(again.inboundPending('l').map((e) => e.id), [11n], 'hand-overs made while full are durable; the retried receive too');
  t.is(again.deliveredUpTo('l'), 11n);
});

maybe('a process whose spool runs out of disk refuses and keeps running (no crash on lmdb rejections)', async (t) => {
  const disk = smallDisk(t, 2)!;
  const dir = join(disk, 'spool');
  mkdirSync(dir);
  const child = spawn(process.execPath, [...scriptArgs(join(import.meta.dirname, 'disk-full-child.ts')), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.is(code, 0, `child exited ${code}: ${err.split('\n').filter((l) => !l.startsWith('    at ')).slice(-8).join('\n')}`);
  const res = JSON.parse(out.trim().split('\n').at(-1)!) as { accepted: string[]; refused: Record<string, number>; pending: number };
  t.true(res.accepted.length > 0);
  t.true((res.refused.SPOOL_DISK_FULL ?? 0) > 0, 'refused for lack of disk');
  t.deepEqual(Object.keys(res.refused), ['SPOOL_DISK_FULL']);
  t.is(res.pending, res.accepted.length, 'everything accepted is still there');
});

maybe('what is left of a partly handed-over message is recorded once space returns, the newest state only', async (t) => {
  const disk = smallDisk(t, 4)!;
  const dir = join(disk, 'spool');
  mkdirSync(dir);
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  t.true(await sp.receive('l', 1n, Buffer.from('<a/><b/><c/>')));
  fillDisk(join(disk, 'filler'));
  // Neither call throws or waits for the disk: the newest rest is written when there is room.
  await Promise.race([Promise.all([sp.keepInbound('l', 1n, Buffer.from('<b/><c/>')), sp.keepInbound('l', 1n, Buffer.from('<c/>'))]), new Promise((r) => setTimeout(r, 300))]);
  t.is(sp.inboundPending('l')[0].stanza.toString(), '<a/><b/><c/>', 'nothing written while the disk is full');
  rmSync(join(disk, 'filler'));
  const deadline = Date.now() + 5_000;
  while (sp.inboundPending('l')[0].stanza.toString() !== '<c/>' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await sp.close();
  const again = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000 });
  t.teardown(() => again.close());
  t.deepEqual(again.inboundPending('l').map((e) => e.stanza.toString()), ['<c/>'], 'a restart replays only what was not handed over');
});

maybe('writes queued in one turn count against the free space together: refused before lmdb runs out of disk', async (t) => {
  const disk = smallDisk(t, 8)!;
  const dir = join(disk, 'spool');
  mkdirSync(dir);
  const metrics = new Metrics();
  const sp = Spool.open(dir, { maxBytes: 1 << 30, maxStanzas: 1_000_000, metrics });
  t.teardown(() => sp.close());
  t.true(await sp.receive('l', 1n, Buffer.from('<warm/>')));
  // 1.5 MiB left: each write alone passes the 1 MiB margin, all 100 (2 MiB) would not fit.
  const st = statfsSync(disk);
  writeFileSync(join(disk, 'filler'), Buffer.alloc(st.bavail * st.bsize - 1.5 * (1 << 20)));
  const body = Buffer.alloc(20_000, 'z');
  const results = await Promise.all(Array.from({ length: 100 }, (_, i) => sp.receive('l', BigInt(i + 2), body).then(() => 'stored', (e: unknown) => (e instanceof SpoolDiskFullError ? e.code : String(e)))));
  const stored = results.filter((r) => r === 'stored').length;
  t.log(`${stored} stored, ${results.length - stored} refused`);
  t.true(stored > 0, 'what fits is stored');
  t.true(results.every((r) => r === 'stored' || r === 'SPOOL_DISK_FULL'), results.find((r) => r !== 'stored' && r !== 'SPOOL_DISK_FULL'));
  t.true(metrics.get('spool_disk_full_refusals_total', { op: 'receive' }) > 0, 'the rest refused by the spool');
  t.is(metrics.get('spool_errors_total'), 0, 'no commit failed: lmdb never ran out of disk');
  t.is(sp.deliveredUpTo('l'), BigInt(stored + 1), 'the stored ones are the first ones, in order');
  t.is(sp.inboundPending('l').length, stored + 1);
});

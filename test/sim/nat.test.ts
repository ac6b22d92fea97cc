/**
 * `satrelay bench --nat-rebind S` over real sockets: the ship's NAT gives it a
 * new source port every S s, the shore relay has no peer and follows; every
 * stanza arrives once. Checked for delivery and shape, never as timings: 300
 * chat stanzas need over a second of line time at 128 kbit/s (the emulator
 * serialises) and the bench waits 0.5 s after the burst, so the NAT (every
 * 0.5 s) rebinds at least 3 times, and while the ship sends.
 */

/** 128 kbit/s, 5 ms one-way: the burst takes seconds, a round trip far less than S. */
function slowProfile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'satrelay-nat-')), 'slow-nat.yaml');
  writeFileSync(file, 'description: test\nbearer:\n  rate_bps: 128000\n  delay_ms: 5\n  mtu: 1500\n  nat_timeout_s: 3\ntuning:\n  frame_bytes: 1200\n  keepalive_s: 2\n');
  return file;
}
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../../src/sim/index.ts';
import { parseNatRebindArg } from '../../src/sim/index.ts';
import { runSatrelay } from '../helpers/cli.ts';

test('a bench run with the ship behind a rebinding NAT delivers everything once; the shore followed', async (t) => {
  const r = await runBench({ profile: slowProfile(), workload: 'chat', stanzas: 300, seed: 5, baseline: 'none', natRebindS: 0.5 });
  t.log(JSON.stringify({ transfer_ms: r.transfer_ms, link_bytes: r.link_bytes, nat: r.nat }));
  t.is(r.lost, 0);
  t.is(r.duplicated, 0);
  t.is(r.delivered, 300);
  t.is(r.nat?.rebind_every_s, 0.5);
  t.true(r.nat!.rebinds >= 3, `rebinds ${r.nat!.rebinds}`);
  t.true(r.nat!.shore_followed >= 1, `followed ${r.nat!.shore_followed}`);
  t.true(r.nat!.shore_followed <= r.nat!.rebinds);
  t.true(r.notes.some((n) => n.startsWith("nat: the ship's NAT gives it a new source port every 0.5 s; the shore relay has no peer")));
});

test('--nat-rebind takes seconds > 0 and refuses anything else', async (t) => {
  t.is(parseNatRebindArg('30'), 30);
  t.is(parseNatRebindArg('0.5'), 0.5);
  for (const bad of ['0', '-1', 'x', '']) t.throws(() => parseNatRebindArg(bad), { message: /expected seconds > 0/ }, bad);
  const { code, err } = await runSatrelay(['bench', '--profile', 'lan', '--workload', 'chat', '--nat-rebind', 'soon'], t);
  t.is(code, 2);
  t.regex(err, /--nat-rebind: expected seconds > 0, got "soon"/);
});

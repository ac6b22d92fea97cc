/**
 * The emulator's NAT (src/emulator/nat.ts): the NATed side's source port (a
 * mapping number) changes at given times, every S s, on a runtime rebind, or
 * after the mapping expired; datagrams to a port the NAT no longer maps are
 * dropped and counted. Engine in simulated time; the UDP driver on real
 * sockets; `satrelay emulate` arguments.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { LinkEmulator, type BearerParams, type Delivery } from '../../src/emulator/index.ts';
import { startUdpEmulator } from '../../src/emulator/drivers.ts';
import { parseEmulateArgs } from '../../src/cli/emulate.ts';

const base: BearerParams = { rate_bps: 1_000_000, delay_ms: 10 };
const pkt = Buffer.from('x'.repeat(100));

/** Sends at `at` and runs the engine until everything sent so far has arrived. */
function run(e: LinkEmulator, at: number, dir: 'ab' | 'ba', to?: number): Delivery[] {
  e.send(at, dir, pkt, 'datagram', undefined, to);
  return e.poll(at + 1000);
}

test('every S s the NATed side leaves from a new mapping; datagrams to the old one are dropped and counted', (t) => {
  const e = new LinkEmulator({ ...base, nat: { side: 'a', rebind_every_s: 10 } }, 1);
  t.is(run(e, 0, 'ab')[0].mapping, 0);
  t.is(run(e, 5_000, 'ab')[0].mapping, 0);
  t.is(run(e, 12_000, 'ab')[0].mapping, 1);
  t.is(run(e, 13_000, 'ba', 0).length, 0, 'to the forgotten mapping: dropped');
  t.is(e.stats.ba.dropped_nat, 1);
  t.is(run(e, 14_000, 'ba', 1).length, 1, 'to the live mapping: delivered');
  t.is(run(e, 15_000, 'ba').length, 1, 'unaddressed: the live mapping');
  t.is(run(e, 35_000, 'ab')[0].mapping, 2, 'two rebinds while silent: one new mapping');
  t.deepEqual(e.natState(35_000), { mapping: 2, rebinds: 3 });
  t.is(run(e, 36_000, 'ab').length, 1);
  t.is(e.stats.ab.dropped_nat, 0, 'the NATed side sends freely');
});

test('a mapping unused past timeout_s expires: the next send gets a new one; given times and runtime rebinds too', (t) => {
  const e = new LinkEmulator({ ...base, nat: { side: 'b', timeout_s: 30, rebind_at_s: [100] } }, 1);
  t.is(run(e, 0, 'ba')[0].mapping, 0);
  t.is(run(e, 25_000, 'ba')[0].mapping, 0, 'refreshed by outbound traffic at 25 s');
  t.is(run(e, 50_000, 'ab', 0).length, 1, 'alive: 25 s since the last outbound');
  t.is(run(e, 56_000, 'ab', 0).length, 0, 'expired: 31 s since the last outbound');
  t.is(run(e, 57_000, 'ba')[0].mapping, 1);
  t.is(run(e, 101_000, 'ba')[0].mapping, 2, 'rebind at 100 s');
  e.rebind();
  t.is(run(e, 102_000, 'ba')[0].mapping, 3, 'runtime rebind');
  t.throws(() => new LinkEmulator(base, 1).rebind(), { code: 'EMU_BAD_ARGS' });
  t.is(new LinkEmulator(base, 1).natState(0), undefined);
});

test('bad NAT parameters are refused naming the field', (t) => {
  for (const [nat, field] of [
    [{ side: 'c' }, 'bearer.nat.side'],
    [{ side: 'a', rebind_every_s: 0 }, 'bearer.nat.rebind_every_s'],
    [{ side: 'a', timeout_s: -1 }, 'bearer.nat.timeout_s'],
    [{ side: 'a', rebind_at_s: [5, 'x'] }, 'bearer.nat.rebind_at_s[1]'],
  ] as const) {
    const err = t.throws(() => new LinkEmulator({ ...base, nat: nat as never }, 1), { code: 'EMU_BAD_PARAMS' });
    t.true(err!.message.startsWith(field), err!.message);
  }
});

test('udp: after a rebind the NATed side arrives from a new source port; answers to the old port are lost', async (t) => {
  const ship = dgram.createSocket('udp4');
  const shore = dgram.createSocket('udp4');
  await Promise.all([ship, shore].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  const emu = await startUdpEmulator({
    params: { ...base, nat: { side: 'a' } },
    seed: 1,
    a: { listen: '127.0.0.1:0', forward: `127.0.0.1:${ship.address().port}` },
    b: { listen: '127.0.0.1:0', forward: `127.0.0.1:${shore.address().port}` },
  });
  t.teardown(async () => { await emu.close(); ship.close(); shore.close(); });
  const next = (s: dgram.Socket) => new Promise<{ msg: Buffer; port: number }>((r) => s.once('message', (msg, ri) => r({ msg, port: ri.port })));
  const toEmu = (s: dgram.Socket, port: number, text: string) => s.send(Buffer.from(text), port, '127.0.0.1');

  let got = next(shore);
  toEmu(ship, emu.addresses.a.port, 'one');
  const first = await got;
  t.is(first.port, emu.addresses.b.port, 'mapping 0: the listen socket');
  emu.control.rebind();
  got = next(shore);
  toEmu(ship, emu.addresses.a.port, 'two');
  const second = await got;
  t.not(second.port, first.port, 'a new source port');
  t.deepEqual(emu.control.nat(), { mapping: 1, rebinds: 1 });

  const atShip = next(ship);
  toEmu(shore, first.port, 'to the old port');
  toEmu(shore, second.port, 'to the new port');
  t.is((await atShip).msg.toString(), 'to the new port');
  await new Promise((r) => setTimeout(r, 100)); // the dropped one would have arrived by now (10 ms bearer)
  t.is(emu.stats().ba.dropped_nat, 1);
  t.is(emu.stats().ba.delivered, 1);
});

test('emulate --nat-rebind / --nat-rebind-at / --nat-side / --nat-timeout build bearer.nat; misuse is refused', (t) => {
  t.deepEqual(parseEmulateArgs(['--profile', 'starlink-maritime', '--nat-rebind', '30']).params.nat, { side: 'a', rebind_every_s: 30, timeout_s: 30 });
  t.deepEqual(parseEmulateArgs(['--rate', '64k', '--nat-rebind-at', '10, 95.5', '--nat-side', 'b', '--nat-timeout', '120']).params.nat, { side: 'b', rebind_at_s: [10, 95.5], timeout_s: 120 });
  t.is(parseEmulateArgs(['--rate', '64k']).params.nat, undefined);
  t.throws(() => parseEmulateArgs(['--rate', '64k', '--nat-side', 'b']), { message: /--nat-side needs --nat-rebind or --nat-rebind-at/ });
  t.throws(() => parseEmulateArgs(['--rate', '64k', '--nat-rebind', '0']), { message: /--nat-rebind: expected seconds > 0/ });
  t.throws(() => parseEmulateArgs(['--rate', '64k', '--nat-rebind', '5', '--nat-side', 'x']), { message: /--nat-side must be a or b/ });
  t.throws(() => parseEmulateArgs(['--rate', '64k', '--nat-rebind-at', '5,soon']), { message: /--nat-rebind-at: expected times in seconds/ });
  t.throws(() => parseEmulateArgs(['--rate', '64k', '--nat-rebind', '5', '--mode', 'tcp']), { message: /need --mode udp/ });
});

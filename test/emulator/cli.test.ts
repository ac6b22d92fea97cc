/** `satrelay emulate`: argument parsing, profiles, a real UDP run stopped like SIGINT. */
import test from 'ava';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { parseRate } from '../../src/emulator/cli.ts';
import { parseEmulateArgs, emulateCommand as runEmulateCommand } from '../../src/cli/emulate.ts';
import { EmulatorError } from '../../src/emulator/errors.ts';
import { loadBearerParams } from '../../src/emulator/profile.ts';

function tmpDir(t: { teardown: (f: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'satrelay-emu-cli-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('parseRate', (t) => {
  t.is(parseRate('9600'), 9600);
  t.is(parseRate('64k'), 64_000);
  t.is(parseRate('1.5M'), 1_500_000);
  t.throws(() => parseRate('fast'), { instanceOf: EmulatorError });
});

test('flags build bearer params', (t) => {
  const p = parseEmulateArgs(['--rate', '2400', '--delay', '1000', '--ge', '0.01,0.3', '--half-duplex', '--turnaround', '80',
    '--outage', '10:5', '--outage-every=60:2:30', '--ber', '1e-5', '--seed', '42', '--mode', 'pty']);
  t.deepEqual(p.params, {
    rate_bps: 2400, delay_ms: 1000, turnaround_ms: 80, ber: 1e-5, duplex: 'half',
    loss: { model: 'gilbert_elliott', p_gb: 0.01, p_bg: 0.3 },
    outages: [{ start_s: 10, duration_s: 5 }, { every_s: 60, duration_s: 2, offset_s: 30 }],
  });
  t.is(p.seed, 42);
  t.is(p.mode, 'pty');
});

test('profile bearer is read and flags override it', (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, 'iridium.yaml');
  fs.writeFileSync(file, 'bearer:\n  rate_bps: 2400\n  delay_ms: 1000\n  loss: { model: bernoulli, p: 0.02 }\ntuning:\n  window: 8\n');
  t.deepEqual(loadBearerParams(file), { rate_bps: 2400, delay_ms: 1000, loss: { model: 'bernoulli', p: 0.02 } });
  const p = parseEmulateArgs(['--profile', file, '--delay', '500']);
  t.is(p.params.delay_ms, 500);
  t.is(p.params.rate_bps, 2400);
  // Profile by name, looked up under ./profiles of the given cwd.
  fs.mkdirSync(path.join(dir, 'profiles'));
  fs.writeFileSync(path.join(dir, 'profiles', 'x.yaml'), 'bearer: { rate_bps: 9600, delay_ms: 300 }\n');
  t.is(loadBearerParams('x', dir).rate_bps, 9600);
  fs.writeFileSync(path.join(dir, 'bad.yaml'), 'bearer: { rate_bps: -1, delay_ms: 3 }\n');
  t.is(t.throws(() => loadBearerParams(path.join(dir, 'bad.yaml')), { instanceOf: EmulatorError })?.code, 'EMU_BAD_PARAMS');
  fs.writeFileSync(path.join(dir, 'none.yaml'), 'tuning: {}\n');
  t.is(t.throws(() => loadBearerParams(path.join(dir, 'none.yaml')), { instanceOf: EmulatorError })?.code, 'EMU_PROFILE');
  t.is(t.throws(() => loadBearerParams('no-such-profile', dir), { instanceOf: EmulatorError })?.code, 'EMU_PROFILE');
});

test('bad arguments: exit 2 and a message', async (t) => {
  for (const args of [['--rate', 'x'], ['--bogus'], ['--rate', '9600', '--mode', 'carrier-pigeon'], ['--delay', '3'], ['--rate', '9600', '--mode', 'udp']]) {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d) => (text += d));
    t.is(await runEmulateCommand(args, { err, out: new PassThrough() }), 2, args.join(' '));
    t.regex(text, /satrelay emulate: /);
  }
});

test('udp mode runs, carries datagrams, prints stats and a summary when stopped', async (t) => {
  const relayA = dgram.createSocket('udp4');
  const relayB = dgram.createSocket('udp4');
  await Promise.all([relayA, relayB].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  t.teardown(() => {
    relayA.close();
    relayB.close();
  });
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => (text += d));
  const ac = new AbortController();
  t.teardown(() => ac.abort());
  const done = runEmulateCommand(
    ['--rate', '1M', '--delay', '5', '--mode', 'udp', '--a-listen', '127.0.0.1:0', '--a-forward', `127.0.0.1:${relayA.address().port}`,
      '--b-listen', '127.0.0.1:0', '--b-forward', `127.0.0.1:${relayB.address().port}`, '--seed', '3', '--interval', '0.05'],
    { out, err: out, signal: ac.signal },
  );
  const start = Date.now();
  while (!/a listens on/.test(text) && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 10));
  const m = /a listens on 127\.0\.0\.1:(\d+)/.exec(text);
  t.truthy(m, text);
  const got = new Promise<Buffer>((r) => relayB.once('message', r));
  relayA.send(Buffer.from('over the bearer'), Number(m![1]), '127.0.0.1');
  t.is((await got).toString(), 'over the bearer');
  await new Promise((r) => setTimeout(r, 120));
  ac.abort();
  t.is(await done, 0);
  t.regex(text, /\[\d+s\] ab 1\/1 pkts 15 B/);
  t.regex(text, /summary after .*\nab: sent 1 \(15 B\) delivered 1 \(15 B\)/);
});

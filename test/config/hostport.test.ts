import test from 'ava';
import fc from 'fast-check';
import { HostPortError, formatHostPort, parseHostPort, type HostPort } from '../../src/config/index.ts';
import { parseListen } from '../../src/s2s/service.ts';
import { parseHostPort as driverHostPort } from '../../src/link/drivers/index.ts';
import { parseHostPort as emulatorHostPort } from '../../src/emulator/drivers.ts';

test('host:port forms', (t) => {
  t.deepEqual(parseHostPort('127.0.0.1:5269'), { host: '127.0.0.1', port: 5269 });
  t.deepEqual(parseHostPort('[::1]:5299'), { host: '::1', port: 5299 });
  t.deepEqual(parseHostPort('xmpp.example.org:0'), { host: 'xmpp.example.org', port: 0 });
  t.deepEqual(parseHostPort('10.1.0.5', 5269), { host: '10.1.0.5', port: 5269 });
  t.deepEqual(parseHostPort('[fd00::5]', 53), { host: 'fd00::5', port: 53 });
  for (const bad of ['', '::1:5269', '[::1', '[::1]x', '[1.2.3.4]:5', 'host:', 'host:65536', 'host:-1', 'a b:1', 'host', '[::1]']) {
    t.throws(() => parseHostPort(bad), { instanceOf: HostPortError }, bad);
  }
});

test('format then parse is the identity (property, seeded)', (t) => {
  const seed = 20261123;
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  const result = fc.check(
    fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
      const parsed = parseHostPort(formatHostPort({ host: h, port }));
      return parsed.port === port && parsed.host === h;
    }),
    { seed, numRuns: 300 },
  );
  t.false(result.failed, `seed ${seed}: ${fc.defaultReportMessage(result) ?? ''}`);
});

/** Every reader of `host:port` in src/ (site file, S2S listeners, link drivers, emulator): one parser, one verdict. */
const READERS: Array<{ name: string; parse: (s: string) => HostPort; code: string }> = [
  { name: 'config', parse: (s) => parseHostPort(s), code: 'CONFIG_BAD_HOSTPORT' },
  { name: 's2s listen', parse: parseListen, code: 'S2S_BAD_LISTEN' },
  { name: 'link driver', parse: (s) => driverHostPort(s), code: 'DRIVER_BAD_ADDRESS' },
  { name: 'emulator', parse: (s) => emulatorHostPort(s, 'a.listen'), code: 'EMU_BAD_ARGS' },
];

const TABLE: Array<[string, HostPort | string]> = [
  ['127.0.0.1:5269', { host: '127.0.0.1', port: 5269 }],
  ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
  ['[::1]:5299', { host: '::1', port: 5299 }],
  ['[::]:0', { host: '::', port: 0 }],
  ['localhost:65535', { host: 'localhost', port: 65535 }],
  ['relay.example.org.:5299', { host: 'relay.example.org.', port: 5299 }],
  ['', 'empty'],
  ['127.0.0.1', 'no port'],
  ['[::1]', 'no port'],
  ['::1:5269', 'IPv6 address in brackets'],
  ['[::1', 'missing "]"'],
  ['[::1]5269', '":port" after "]"'],
  ['[1.2.3.4]:5', 'IPv6 address inside []'],
  ['a b:1', 'IPv4 address, host name or [IPv6]'],
  ['host:', 'port number 0-65535'],
  ['host:65536', 'port number 0-65535'],
  ['host:-1', 'port number 0-65535'],
  ['host:0x10', 'port number 0-65535'],
];

test('host:port: the site file, S2S listeners, link drivers and the emulator accept and refuse the same addresses', (t) => {
  for (const [input, want] of TABLE) {
    for (const r of READERS) {
      const label = `${r.name} ${JSON.stringify(input)}`;
      if (typeof want === 'string') {
        const err = t.throws(() => r.parse(input), undefined, label) as (Error & { code?: string }) | undefined;
        t.is(err?.code, r.code, label);
        t.true(err?.message.includes(want), `${label}: ${err?.message}`);
      } else t.deepEqual(r.parse(input), want, label);
    }
  }
  t.regex(t.throws(() => emulatorHostPort('x', 'b.forward'))!.message, /^b\.forward: expected "host:port"/, 'the emulator names the option');
  t.deepEqual(emulatorHostPort({ host: '::1', port: 7 }), { host: '::1', port: 7 }, 'an address already parsed passes through');
  t.deepEqual(driverHostPort({ host: '::1', port: 7 }), { host: '::1', port: 7 });
});

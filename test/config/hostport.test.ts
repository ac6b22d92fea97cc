import test from 'ava';
import fc from 'fast-check';
import { HostPortError, formatHostPort, parseHostPort } from '../../src/config/index.ts';

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

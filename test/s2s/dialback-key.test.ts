import test from 'ava';
import { randomBytes } from 'node:crypto';
import { dialbackKey, verifyDialbackKey } from '../../src/s2s/dialback-key.ts';

// XEP-0185 §3 worked example (xsf/xeps xep-0185.xml, version 1.0).
const secret = Buffer.from('s3cr3tf0rd14lb4ck');
const vector = '37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643';

test('XEP-0185 example vector', (t) => {
  t.is(dialbackKey(secret, 'xmpp.example.com', 'example.org', 'D60000229F'), vector);
  t.true(verifyDialbackKey(secret, 'xmpp.example.com', 'example.org', 'D60000229F', vector));
  t.true(verifyDialbackKey(secret, 'xmpp.example.com', 'example.org', 'D60000229F', `\n  ${vector.toUpperCase()}\n`));
});

test('any changed input gives a key that does not verify', (t) => {
  const args = ['xmpp.example.com', 'example.org', 'D60000229F'] as const;
  t.false(verifyDialbackKey(Buffer.from('s3cr3tf0rd14lb4cK'), ...args, vector));
  t.false(verifyDialbackKey(secret, 'xmpp.example.co', ...args.slice(1) as [string, string], vector));
  t.false(verifyDialbackKey(secret, args[0], 'example.net', args[2], vector));
  t.false(verifyDialbackKey(secret, args[0], args[1], 'D60000229E', vector));
  // the separator disambiguates concatenations (XEP-0185 §2 note)
  t.not(dialbackKey(secret, 'example.info', 'rm.example.org', 'id'), dialbackKey(secret, 'example.in', 'form.example.org', 'id'));
  t.false(verifyDialbackKey(secret, ...args, vector.slice(0, 63)));
  t.false(verifyDialbackKey(secret, ...args, ''));
  t.false(verifyDialbackKey(secret, ...args, vector.replace(/^3/, '4')));
});

test('keys are 64 hex digits and depend on the secret', (t) => {
  const a = dialbackKey(randomBytes(32), 'b.example', 'a.example', 'id1');
  const b = dialbackKey(randomBytes(32), 'b.example', 'a.example', 'id1');
  t.regex(a, /^[0-9a-f]{64}$/);
  t.not(a, b);
});

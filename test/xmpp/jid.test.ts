/**
 * JID splitting (RFC 7622, no PRECIS): domainOf answers from a bounded memo of
 * recent JIDs; its answers are those of parseJid, valid or not, before and
 * after the memo fills and is cleared.
 */
import test from 'ava';
import fc from 'fast-check';
import { domainMatches, domainOf, parseJid } from '../../src/xmpp/jid.ts';

test('domainOf is parseJid().domain for any string, asked once or again, past the memo size', (t) => {
  const fixed = ['alice@A.Example/phone', 'a.example.', 'bob@b.example', '@b.example', 'x@/r', 'a.example/', 'b ad.example', 'muc.a.example/Ülf', ''];
  for (let round = 0; round < 3; round++) for (const s of fixed) t.is(domainOf(s), parseJid(s)?.domain, JSON.stringify(s));
  t.is(domainOf(undefined), undefined);
  // More distinct JIDs than the memo holds, twice over, interleaved with the fixed ones.
  for (let i = 0; i < 10_000; i++) {
    const s = `u${i}@D${i % 7}.example/r`;
    t.is(domainOf(s), `d${i % 7}.example`);
    if (i % 1000 === 0) for (const f of fixed) t.is(domainOf(f), parseJid(f)?.domain);
  }
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => domainOf(s) === parseJid(s)?.domain && domainOf(s) === parseJid(s)?.domain),
    { numRuns: 2000 },
  );
  t.pass();
});

test('domainMatches: exact (any case), "*.example" for subdomains only, "*" for all', (t) => {
  // The rule as written out: the reference the matcher is checked against.
  const reference = (domain: string, patterns: readonly string[]): boolean =>
    patterns.some((p) => {
      const q = p.toLowerCase();
      const d = domain.toLowerCase();
      return q === '*' || (q.startsWith('*.') ? d.endsWith(q.slice(1)) : d === q);
    });
  t.true(domainMatches('B.Example', ['a.example', 'b.example']));
  t.true(domainMatches('muc.b.example', ['*.B.example']));
  t.false(domainMatches('b.example', ['*.b.example']), 'not the parent itself');
  t.false(domainMatches('xb.example', ['*.b.example']), 'a label boundary');
  t.true(domainMatches('anything', ['x', '*']));
  t.false(domainMatches('a.example', []));
  const label = fc.constantFrom('a', 'B', 'example', 'muc', 'x-y', '');
  const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
  const pattern = fc.oneof(domain, domain.map((d) => `*.${d}`), fc.constant('*'), fc.constant('*.'), fc.constant('*x'));
  fc.assert(fc.property(domain, fc.array(pattern, { maxLength: 4 }), (d, ps) => domainMatches(d, ps) === reference(d, ps)), { numRuns: 3000, seed: 20261203 });
});

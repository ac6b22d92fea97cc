/**
 * The soak ledger's judgement of duplicates: only a second delivery by a
 * relay killed within CRASH_WINDOW_MS of the first one is the documented
 * crash window; any other duplicate fails the verdict.
 */
import test from 'ava';
import { CRASH_WINDOW_MS, Ledger } from '../../bench/soak/ledger.ts';
import { x } from '../../src/xml/element.ts';

const msg = (id: string) => x('message', { from: 'alice@a.example/x', to: 'bob@b.example', type: 'chat', id }, x('body', {}, id));

test('a stanza delivered again by the relay killed right after its first delivery is the crash window, not a failure', (t) => {
  const l = new Ledger();
  l.sent('a', msg('m1'), 0);
  l.arrived('b', msg('m1'), 1000);
  l.relayKilled('b', 1000 + CRASH_WINDOW_MS / 2);
  l.arrived('b', msg('m1'), 5000);
  const v = l.verdict();
  t.is(v.duplicated, 1);
  t.is(v.crashWindowDuplicates, 1);
  t.true(v.ok);
});

test('other duplicates fail: the other relay killed, a kill long after, a third delivery, no kill at all', (t) => {
  const cases: Array<[string, (l: Ledger) => void]> = [
    ['the sending relay was killed', (l) => { l.arrived('b', msg('m1'), 1000); l.relayKilled('a', 1100); l.arrived('b', msg('m1'), 5000); }],
    ['the kill came later than the window', (l) => { l.arrived('b', msg('m1'), 1000); l.relayKilled('b', 1000 + CRASH_WINDOW_MS + 1); l.arrived('b', msg('m1'), 5000); }],
    ['the kill came before the first delivery', (l) => { l.relayKilled('b', 900); l.arrived('b', msg('m1'), 1000); l.arrived('b', msg('m1'), 5000); }],
    ['delivered three times', (l) => { l.arrived('b', msg('m1'), 1000); l.relayKilled('b', 1100); l.arrived('b', msg('m1'), 5000); l.arrived('b', msg('m1'), 6000); }],
    ['no relay killed', (l) => { l.arrived('b', msg('m1'), 1000); l.arrived('b', msg('m1'), 1001); }],
  ];
  for (const [what, run] of cases) {
    const l = new Ledger();
    l.sent('a', msg('m1'), 0);
    run(l);
    const v = l.verdict();
    t.is(v.crashWindowDuplicates, 0, what);
    t.false(v.ok, what);
  }
});

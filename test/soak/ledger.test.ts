/**
 * The soak ledger's judgement of duplicates: only a second delivery by a
 * relay killed within CRASH_WINDOW_MS of the first one is the documented
 * crash window, at most crashAllowance(delivery window) per kill and
 * destination domain; any other duplicate fails the verdict.
 */
import test from 'ava';
import { CRASH_WINDOW_MS, Ledger, crashAllowance } from '../../bench/soak/ledger.ts';
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

/** n stanzas to `domain`, each delivered at 1000 ms and again after relay b was killed at 1200 ms. */
function killedWith(l: Ledger, n: number, domain: string, from = 0): void {
  for (let i = from; i < from + n; i++) {
    const el = x('message', { from: 'alice@a.example/x', to: `bob@${domain}`, type: 'chat', id: `m${i}` }, x('body', {}, 'hi'));
    l.sent('a', el, 0);
    l.arrived('b', el, 1000);
  }
}

test('a kill may deliver again up to the delivery window plus one per destination domain; one more fails', (t) => {
  for (const window of [1, 4]) {
    const allowed = crashAllowance(window);
    const ok = new Ledger({ deliveryWindow: window });
    killedWith(ok, allowed, 'b.example');
    killedWith(ok, allowed, 'muc.b.example', 100); // another domain: its own allowance
    ok.relayKilled('b', 1200);
    for (let i = 0; i < allowed; i++) ok.arrived('b', x('message', { from: 'alice@a.example/x', to: 'bob@b.example', type: 'chat', id: `m${i}` }), 5000);
    for (let i = 100; i < 100 + allowed; i++) ok.arrived('b', x('message', { from: 'alice@a.example/x', to: 'bob@muc.b.example', type: 'chat', id: `m${i}` }), 5000);
    t.like(ok.verdict(), { duplicated: 2 * allowed, crashWindowDuplicates: 2 * allowed, ok: true }, `window ${window}`);

    const over = new Ledger({ deliveryWindow: window });
    killedWith(over, allowed + 1, 'b.example');
    over.relayKilled('b', 1200);
    for (let i = 0; i <= allowed; i++) over.arrived('b', x('message', { from: 'alice@a.example/x', to: 'bob@b.example', type: 'chat', id: `m${i}` }), 5000);
    t.like(over.verdict(), { duplicated: allowed + 1, crashWindowDuplicates: allowed, ok: false }, `window ${window}: one more than allowed`);
  }
  t.is(crashAllowance(1), 2, 'the default: the unacknowledged stanza and one whose release was being committed');
});

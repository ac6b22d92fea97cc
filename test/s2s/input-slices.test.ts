/**
 * A burst from one local server is read in slices (INPUT_PER_TURN): between
 * slices the event loop runs the rest of the relay (spool commits, the link's
 * sends), so the bearer starts on the first stanzas while the rest is parsed.
 */
import test from 'ava';
import { service, until } from './_util.ts';
import { parseXml } from '../../src/xml/index.ts';
import { INPUT_PER_TURN } from '../../src/s2s/stream.ts';

test('a 600 KB burst from one server is taken in slices, other work running between them, every stanza in order', async (t) => {
  const order: string[] = [];
  /** Bytes of stanzas handled per event-loop iteration at the receiver (a setImmediate chain counts the iterations). */
  const turns = new Map<number, number>();
  let turn = 0;
  let probing = true;
  const probe = (): void => {
    turn++;
    if (probing) setImmediate(probe);
  };
  t.teardown(() => void (probing = false));
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off' });
  const Y = await service(t, {
    local: ['b.example'], served: ['a.example'], tls: 'off',
    onStanza: (el) => {
      turns.set(turn, (turns.get(turn) ?? 0) + (el.raw?.length ?? 0));
      order.push(el.attr('id')!);
    },
  });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='warm'/>`));
  await until(() => order.length === 1, 8000, 'the session is up');
  turns.clear();
  probe();

  const n = 2000;
  const body = 'x'.repeat(240);
  for (let i = 0; i < n; i++) X.svc.deliver(parseXml(`<message from='bob@b.example' to='alice@a.example' id='m${i}' type='chat'><body>${body}</body></message>`));
  await until(() => order.length === n + 1, 20_000, 'the whole burst');
  t.deepEqual(order.slice(1), Array.from({ length: n }, (_, i) => `m${i}`), 'in order, none lost or repeated');
  const biggest = Math.max(...turns.values());
  // A slice ends with the read that crosses the limit (a read is at most 64 KB); what the socket had
  // buffered by then (its high-water mark) goes when it resumes.
  const bound = INPUT_PER_TURN + 64 * 1024 + 16 * 1024;
  t.true(biggest <= bound, `at most a slice per iteration: the biggest handled ${biggest} B of ${n * 300} B (${turns.size} iterations)`);
});

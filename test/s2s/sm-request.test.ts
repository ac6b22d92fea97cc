/**
 * XEP-0198 as the sending side: the <r/> that asks the local server to
 * acknowledge a burst leaves in the same write as the burst, at the end of
 * the tick, not after the event loop's other I/O (runtime.soon). The relay
 * delivers to a local server one stanza at a time, each once acknowledged,
 * so that wait was paid per stanza.
 */
import test from 'ava';
import { service, until } from './_util.ts';
import { systemRuntime, type S2SRuntime } from '../../src/s2s/index.ts';
import { x } from '../../src/xml/element.ts';

test('a stanza to a local server with XEP-0198 is acknowledged without waiting for deferred work (soon)', async (t) => {
  let hold = false;
  const held: Array<() => void> = [];
  const runtime: S2SRuntime = { ...systemRuntime, soon: (fn) => (hold ? void held.push(fn) : systemRuntime.soon(fn)) };
  // X: the relay side, delivering to Y (the server of a.example), which offers XEP-0198.
  const X = await service(t, { local: ['a.example'], served: ['b.example'], tls: 'off', runtime });
  // Y holds its deferred work too: its unasked acknowledgements (once per burst) wait, only an <r/> is answered at once.
  const Y = await service(t, { local: ['b.example'], served: ['a.example'], tls: 'off', runtime });
  X.routes['a.example'] = `127.0.0.1:${Y.port}`;
  Y.routes['b.example'] = `127.0.0.1:${X.port}`;
  const msg = (id: string) => x('message', { from: 'bob@b.example', to: 'alice@a.example', id }, x('body', {}, id));
  await X.svc.send(msg('m1')); // session set up, XEP-0198 enabled, first stanza acknowledged
  t.is(Y.got.length, 1);
  await new Promise((r) => setImmediate(r)); // the first burst's deferred work done
  hold = true;
  let acked = false;
  void X.svc.send(msg('m2')).then(() => (acked = true));
  await until(() => acked, 5000, 'the second stanza acknowledged while deferred work is held');
  t.is(Y.got.length, 2);
  hold = false;
  for (const fn of held.splice(0)) fn();
});

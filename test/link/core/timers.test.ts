// The named timer table (timers.ts) on its own, and the endpoint's table in simulated time.
import test from 'ava';
import { TimerTable } from '../../../src/link/core/timers.ts';
import { LinkEndpoint } from '../../../src/link/core/index.ts';
import { DEFAULT_TUNING } from './pair.ts';

test('the earliest armed deadline is next; expired ones come in table order; unset and infinite disarm', (t) => {
  const tt = new TimerTable();
  t.is(tt.next(), undefined);
  tt.set('idle', 900);
  tt.set('rto', 500);
  tt.set('ack', 700);
  tt.set('probe', Infinity);
  t.is(tt.next(), 500);
  t.deepEqual(tt.expired(499), []);
  t.deepEqual(tt.expired(800), ['ack', 'rto']);
  tt.set('rto', undefined);
  t.is(tt.get('rto'), undefined);
  t.is(tt.next(), 700);
  tt.stop('ack');
  t.deepEqual(tt.snapshot(), { idle: 900 });
});

test('endpoint: a data frame arms the RTO; when it expires the frame goes again', (t) => {
  const ep = new LinkEndpoint({ tuning: { ...DEFAULT_TUNING, rateBps: undefined }, key: Buffer.alloc(32, 7), role: 'a', localDomains: ['a.example'], remoteDomains: ['b.example'], random: (n) => Buffer.alloc(n, 1) }, 0);
  t.deepEqual(ep.timerTable(), {}, 'nothing to do, nothing heard: no timer');
  ep.submit(1n, Buffer.from('<message to="b@b.example"><body>hi</body></message>'), 'high', 0);
  t.truthy(ep.pollTransmit(0));
  t.is(ep.pollTransmit(0), undefined);
  const rto = ep.timerTable().rto!;
  t.is(rto, 2 * DEFAULT_TUNING.rttEstimateMs!, 'initial RTO: twice the estimate');
  t.is(ep.pollTimeout(), rto);
  ep.handleTimeout(rto - 1);
  t.is(ep.pollTransmit(rto - 1), undefined, 'not before it expires');
  ep.handleTimeout(rto);
  t.truthy(ep.pollTransmit(rto), 'resent');
  t.is(ep.stats().retransmits, 1);
});

import test from 'ava';
import fc from 'fast-check';
import { OutboundQueue, expandFanout } from '../../src/optimize/index.ts';
import { parseXml } from '../../src/xml/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import { canon } from './fixtures.ts';

const SEED = Number(process.env.SATRELAY_TEST_SEED ?? 20261123);

const froms = ['alice@a.example/1', 'alice@a.example/2', 'ops@conference.a.example/kay'];
const tos = ['bob@b.example', 'carol@b.example', 'dave@b.example/x', 'erin@c.example', 'frank@b.example/y'];

type Op =
  | { op: 'take' }
  | { op: 'push'; kind: 'presence'; from: number; to: number; show: string; type?: string }
  | { op: 'push'; kind: 'chat' | 'groupchat'; from: number; to: number; body: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ op: 'take' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('push' as const), kind: fc.constant('presence' as const),
      from: fc.nat(froms.length - 1), to: fc.nat(tos.length - 1),
      show: fc.constantFrom('', 'away'),
      type: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('unavailable', 'subscribe', 'probe', 'unsubscribed') },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('push' as const), kind: fc.constantFrom('chat' as const, 'groupchat' as const),
      from: fc.nat(froms.length - 1), to: fc.nat(tos.length - 1), body: fc.nat(2),
    }),
  },
);

function build(o: Exclude<Op, { op: 'take' }>): XmlElement {
  const head = `from='${froms[o.from]}' to='${tos[o.to]}'`;
  if (o.kind === 'presence') {
    return parseXml(`<presence xmlns='jabber:server' ${head}${o.type ? ` type='${o.type}'` : ''}>${o.show ? `<show>${o.show}</show>` : ''}<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://gajim.org' ver='0cdzcFpKEIHZZ/LwhkQbQFOsoDM='/></presence>`);
  }
  return parseXml(`<message xmlns='jabber:server' ${head} type='${o.kind}' id='m${o.body}'><body>b${o.body}</body><stanza-id xmlns='urn:xmpp:sid:0' id='s${o.body}' by='ops@conference.a.example'/></message>`);
}

test(`random queues: delivered multiset = input minus superseded, each id covered once, per-recipient order kept (seed ${SEED})`, (t) => {
  let runs = 0;
  const metrics = new Metrics();
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80, size: 'medium' }), fc.boolean(), fc.boolean(), (ops, coalesce, fanout) => {
      runs++;
      const q = new OutboundQueue({ coalescePresence: coalesce, fanout, metrics });
      const input = new Map<bigint, XmlElement>();
      const superseded = new Set<bigint>();
      const covered: bigint[] = [];
      const delivered: string[] = [];
      const perKey = new Map<string, bigint[]>();
      let next = 1n;
      const takeOne = (): boolean => {
        const it = q.take();
        if (!it) return false;
        const copies = expandFanout(parseXml(it.el.toString()));
        if (copies.length !== it.ids.length) throw new Error(`item covers ${it.ids.length} ids but expands to ${copies.length}`);
        for (let i = 1; i < it.ids.length; i++) if (!(it.ids[i - 1] < it.ids[i])) throw new Error('ids not ascending');
        for (const c of copies) delivered.push(canon(c));
        for (const id of it.ids) {
          covered.push(id);
          const el = input.get(id)!;
          const k = `${it.priority}|${el.attr('from')}|${el.attr('to')}`;
          perKey.set(k, [...(perKey.get(k) ?? []), id]);
        }
        return true;
      };
      for (const o of ops) {
        if (o.op === 'take') {
          takeOne();
          continue;
        }
        const el = build(o);
        const id = next++;
        input.set(id, el);
        const r = q.push({ id, el, bytes: el.toBuffer().length, priority: el.local === 'presence' ? 'low' : 'high', acceptedAt: 0 });
        for (const s of r.superseded) {
          const gone = input.get(s)!;
          if (gone.local !== 'presence' || gone.attr('type') !== undefined && gone.attr('type') !== 'unavailable') throw new Error('a non-state stanza was superseded');
          superseded.add(s);
        }
      }
      while (takeOne());
      if (q.length !== 0 || q.bytes() !== 0) throw new Error('queue not empty after draining');
      // every id exactly once: taken or superseded
      const all = [...covered, ...superseded].sort((a, b) => (a < b ? -1 : 1));
      if (all.length !== input.size || all.some((id, i) => id !== BigInt(i + 1))) throw new Error('ids not covered exactly once');
      if (!coalesce && superseded.size > 0) throw new Error('superseded without coalescing');
      const want = [...input].filter(([id]) => !superseded.has(id)).map(([, el]) => canon(el)).sort();
      if (JSON.stringify([...delivered].sort()) !== JSON.stringify(want)) throw new Error('delivered multiset differs from input minus superseded');
      for (const [k, ids] of perKey) for (let i = 1; i < ids.length; i++) if (ids[i - 1] > ids[i]) throw new Error(`order broken for ${k}`);
    }),
    { seed: SEED, numRuns: 400 },
  );
  t.true(runs >= 400);
  t.log(`presence folds ${metrics.get('optimize_folds_total', { kind: 'presence' })}, groupchat folds ${metrics.get('optimize_folds_total', { kind: 'groupchat' })}, coalesced ${metrics.get('optimize_coalesced_total')}`);
  // The generator must reach the interesting paths, or the property says little.
  t.true(metrics.get('optimize_folds_total', { kind: 'presence' }) > 20);
  t.true(metrics.get('optimize_folds_total', { kind: 'groupchat' }) > 20);
  t.true(metrics.get('optimize_coalesced_total') > 20);
});

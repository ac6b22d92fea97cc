import test from 'ava';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOptimizeHooks, capsMarkerHash, foldCopies, queueOptionsFor, DISCO_CACHE_FILE, CAPS_MARKER_NS } from '../../src/optimize/index.ts';
import { Router } from '../../src/relay/router.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { XmlElement } from '../../src/xml/element.ts';
import type { RelayLink } from '../../src/link/port.ts';
import { CAPS, DISCO, canon, conversations, discoGet, discoResult, fakeLink, groupchat, presence, richPresence, verOf } from './fixtures.ts';

function setup(t: { teardown(fn: () => void | Promise<void>): void }, presence: 'coalesce' | 'fold' | 'off' = 'fold') {
  const dir = mkdtempSync(join(tmpdir(), 'satrelay-opt-'));
  const metrics = new Metrics();
  const built = buildOptimizeHooks({ presence, discoCache: true, fanout: true, dataDir: dir, metrics });
  t.teardown(async () => {
    await built.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const sent: XmlElement[] = [];
  const delivered: XmlElement[] = [];
  const link: RelayLink = { ...fakeLink('shore', ['b.example', '*.b.example']), send: async (el: XmlElement) => void sent.push(el) };
  const router = new Router({ localDomains: ['a.example', 'conference.a.example'], links: [link], local: { deliver: (el) => void delivered.push(el) }, hooks: built.hooks, metrics });
  return { dir, metrics, built, sent, delivered, link, router };
}

test('through the router: a repeated caps query is answered locally, the bearer carries it once', async (t) => {
  const { router, sent, delivered, link, metrics, built, dir } = setup(t);
  const node = `${conversations.node}#${verOf(conversations)}`;
  await router.fromLocal(discoGet('juliet@a.example/balcony', 'romeo@b.example/Conversations.x7Qd', 'd1', node));
  t.is(sent.length, 1);
  router.fromLink(link, discoResult('romeo@b.example/Conversations.x7Qd', 'juliet@a.example/balcony', 'd1', conversations));
  t.is(delivered.length, 1, 'the result is delivered');
  await router.fromLink(link, presence('benvolio@b.example/Conversations.k2', 'nurse@a.example'));
  await router.fromLocal(discoGet('nurse@a.example/g', 'benvolio@b.example/Conversations.k2', 'd2', node));
  t.is(sent.length, 1, 'nothing more crossed');
  t.is(delivered.length, 3);
  const answer = delivered[2];
  t.deepEqual([answer.attr('from'), answer.attr('to'), answer.attr('id'), answer.attr('type')], ['benvolio@b.example/Conversations.k2', 'nurse@a.example/g', 'd2', 'result']);
  t.is(answer.getChild('query', DISCO)!.attr('node'), node);
  t.is(metrics.get('optimize_cache_hits_total', { kind: 'caps' }), 1);
  await built.close();
  t.true(existsSync(join(dir, DISCO_CACHE_FILE)));
});

test('through the router: once a client\'s unavailable presence crossed, a query to it crosses again and its server answers', async (t) => {
  const { router, sent, delivered, link } = setup(t);
  const node = `${conversations.node}#${verOf(conversations)}`;
  const romeo = 'romeo@b.example/Conversations.x7Qd';
  await router.fromLink(link, presence(romeo, 'juliet@a.example'));
  await router.fromLocal(discoGet('juliet@a.example/balcony', romeo, 'd1', node));
  await router.fromLink(link, discoResult(romeo, 'juliet@a.example/balcony', 'd1', conversations));
  await router.fromLocal(discoGet('nurse@a.example/g', romeo, 'd2', node));
  t.is(sent.length, 1, 'answered from the cache while romeo is online');
  await router.fromLink(link, presence(romeo, 'juliet@a.example', 'unavailable'));
  await router.fromLocal(discoGet('nurse@a.example/g', romeo, 'd3', node));
  t.is(sent.length, 2, 'romeo left: the query crosses');
  t.is(sent[1].attr('id'), 'd3');
  t.is(delivered.filter((e) => e.attr('id') === 'd3').length, 0, 'nothing answered for romeo locally');
});

test('through the router: fold before crossing, fanout expanded on arrival, caps acks consumed', async (t) => {
  const ship = setup(t, 'fold');
  await ship.router.fromLocal(richPresence('alice@a.example/gajim.X1', 'bob@b.example'));
  t.is(ship.sent.length, 1);
  t.deepEqual(ship.sent[0].elements().map((c) => c.local), ['show', 'status', 'priority', 'c']);

  // A folded groupchat arrives from the partner: three occupants get their own copy.
  const copies = ['juliet@a.example/1', 'nurse@a.example/2', 'friar@a.example/3'].map((to) => groupchat('ops@conference.b.example', 'romeo', to, 4));
  ship.router.fromLink(ship.link, parseXml(foldCopies(copies).toString()));
  t.deepEqual(ship.delivered.map(canon), copies.map(canon));

  // A caps ack from the partner is consumed, never delivered to a server; the next presence is stripped.
  const h = capsMarkerHash(ship.sent[0].getChild('c', CAPS)!);
  ship.router.fromLink(ship.link, parseXml(`<iq xmlns='jabber:server' type='result' id='satrelay-caps-1' from='b.example' to='a.example'><caps xmlns='${CAPS_MARKER_NS}'><ack h='${h}'/></caps></iq>`));
  t.is(ship.delivered.length, 3);
  await ship.router.fromLocal(richPresence('alice@a.example/gajim.X1', 'carol@b.example'));
  t.truthy(ship.sent[1].getChild('c', CAPS_MARKER_NS));
});

test('queueOptionsFor maps the presence setting', (t) => {
  t.deepEqual(queueOptionsFor({ presence: 'coalesce', fanout: true }), { coalescePresence: true, fanout: true });
  t.deepEqual(queueOptionsFor({ presence: 'fold', fanout: false }), { coalescePresence: true, fanout: false });
  t.deepEqual(queueOptionsFor({ presence: 'off', fanout: true }), { coalescePresence: false, fanout: true });
});

import test from 'ava';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoCacheHook, DISCO_CACHE_FILE, computeCapsVer } from '../../src/optimize/index.ts';
import { Metrics } from '../../src/obs/metrics.ts';
import { parseXml } from '../../src/xml/index.ts';
import { conversations, dino, gajim, discoGet, discoResult, presence, recordingCtx, verOf, capsXml, canon, DISCO, type Client } from './fixtures.ts';

const link = 'shore';
const tempDir = (t: { teardown(fn: () => void): void }): string => {
  const d = mkdtempSync(join(tmpdir(), 'satrelay-disco-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};
const nodeVer = (c: Client) => `${c.node}#${verOf(c)}`;

/** A query crosses (miss), the far entity answers (optionally without node), the cache learns. */
function learn(hook: DiscoCacheHook, c: Client, far: string, id: string, opts: { nodeInResult?: boolean } = {}): void {
  const ctx = recordingCtx(link);
  const q = discoGet('juliet@a.example/balcony', far, id, nodeVer(c));
  if (hook.outbound(q, ctx) !== q) throw new Error('expected a miss');
  const r = discoResult(far, 'juliet@a.example/balcony', id, c, opts.nodeInResult === false ? undefined : nodeVer(c));
  const out = hook.inbound(r, recordingCtx(link));
  if (out.length !== 1 || out[0] !== r) throw new Error('result must pass on');
}

test('caps hit: a later query for the same node#ver, to another JID, is answered locally and does not cross', (t) => {
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics });
  learn(hook, conversations, 'romeo@b.example/Conversations.x7Qd', 'disco-1', { nodeInResult: false });
  t.is(metrics.get('optimize_cache_misses_total', { kind: 'caps' }), 1);
  t.true(hook.hasCaps(nodeVer(conversations)), 'node learned from the remembered query id');

  hook.inbound(presence('mercutio@b.example/Conversations.Zz9', 'nurse@a.example'), recordingCtx(link)); // mercutio is online
  const ctx = recordingCtx(link);
  const q = discoGet('nurse@a.example/gajim.ABC', 'mercutio@b.example/Conversations.Zz9', 'q-77', nodeVer(conversations));
  t.is(hook.outbound(q, ctx), 'consumed');
  t.is(ctx.remote.length, 0);
  t.is(ctx.local.length, 1);
  const a = ctx.local[0];
  t.is(a.attr('type'), 'result');
  t.is(a.attr('id'), 'q-77');
  t.is(a.attr('from'), 'mercutio@b.example/Conversations.Zz9');
  t.is(a.attr('to'), 'nurse@a.example/gajim.ABC');
  const query = a.getChild('query', DISCO)!;
  t.is(query.attr('node'), nodeVer(conversations));
  t.is(query.getChildren('feature', DISCO).length, conversations.features.length);
  t.is(computeCapsVer(query), verOf(conversations), 'the answer still hashes to the ver');
  t.is(metrics.get('optimize_cache_hits_total', { kind: 'caps' }), 1);
});

test('a result that fails hash verification passes on, is not cached, and is counted', (t) => {
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics });
  const far = 'mallory@b.example/res';
  const claimed = nodeVer(gajim);
  const q = discoGet('juliet@a.example/x', far, 'f1', claimed);
  t.is(hook.outbound(q, recordingCtx(link)), q);
  // Gajim's ver, but one feature added: the hash does not match.
  const forged = discoResult(far, 'juliet@a.example/x', 'f1', gajim, claimed, 'urn:xmpp:jingle:apps:file-transfer:5');
  t.deepEqual(hook.inbound(forged, recordingCtx(link)), [forged]);
  t.false(hook.hasCaps(claimed));
  t.is(metrics.get('optimize_caps_verify_total', { result: 'mismatch' }), 1);
  t.deepEqual(hook.size(), { caps: 0, plain: 0 });
  const again = discoGet('nurse@a.example/y', 'other@b.example/z', 'f2', claimed);
  const ctx = recordingCtx(link);
  t.is(hook.outbound(again, ctx), again, 'the next query still crosses');
  t.is(ctx.local.length, 0);
});

test('caps announced with hash=sha-256 in presence are verified with sha-256', (t) => {
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics });
  const ver256 = verOf(dino, 'sha256');
  const node = `${dino.node}#${ver256}`;
  const pres = parseXml(`<presence xmlns='jabber:server' from='kay@b.example/dino.1' to='juliet@a.example'>${capsXml(dino, 'sha-256')}</presence>`);
  t.deepEqual(hook.inbound(pres, recordingCtx(link)), [pres]);
  hook.outbound(discoGet('juliet@a.example/x', 'kay@b.example/dino.1', 's1', node), recordingCtx(link));
  hook.inbound(discoResult('kay@b.example/dino.1', 'juliet@a.example/x', 's1', dino, node), recordingCtx(link));
  t.true(hook.hasCaps(node));
  t.is(metrics.get('optimize_caps_verify_total', { result: 'ok' }), 1);
});

test('plain (JID, node) entries answer only that JID and only within the max age', (t) => {
  let now = 1_000_000;
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics, now: () => now, plainMaxAgeMs: 300_000 });
  const muc = 'chat.b.example';
  const serviceInfo = (id: string) =>
    parseXml(`<iq xmlns='jabber:server' type='result' from='${muc}' to='juliet@a.example/x' id='${id}'><query xmlns='${DISCO}'><identity category='conference' type='text' name='Chatrooms'/><feature var='http://jabber.org/protocol/muc'/></query></iq>`);
  t.not(hook.outbound(discoGet('juliet@a.example/x', muc, 'p1'), recordingCtx(link)), 'consumed');
  hook.inbound(serviceInfo('p1'), recordingCtx(link));

  now += 299_000;
  const ctx = recordingCtx(link);
  t.is(hook.outbound(discoGet('romeo@a.example/y', muc, 'p2'), ctx), 'consumed');
  t.is(ctx.local[0].attr('from'), muc);
  t.is(ctx.local[0].attr('id'), 'p2');
  t.is(ctx.local[0].getChild('query', DISCO)!.attr('node'), undefined);
  const other = discoGet('romeo@a.example/y', 'rooms.b.example', 'p3');
  t.is(hook.outbound(other, recordingCtx(link)), other, 'another JID is not answered');
  const withNode = discoGet('romeo@a.example/y', muc, 'p4', 'http://jabber.org/protocol/commands');
  t.is(hook.outbound(withNode, recordingCtx(link)), withNode, 'another node is not answered');

  now += 2_000;
  const late = discoGet('romeo@a.example/y', muc, 'p5');
  t.is(hook.outbound(late, recordingCtx(link)), late, 'expired after 300 s');
  t.is(metrics.get('optimize_cache_hits_total', { kind: 'plain' }), 1);
  t.is(metrics.get('optimize_cache_evictions_total', { reason: 'age' }), 1);
});

test('the cache survives a restart: a new instance on the same directory answers without relearning', async (t) => {
  const dir = tempDir(t);
  const first = new DiscoCacheHook({ dataDir: dir, debounceMs: 10_000 });
  learn(first, conversations, 'romeo@b.example/c1', 'a1');
  learn(first, gajim, 'tybalt@b.example/g1', 'a2');
  await first.close();
  const saved = JSON.parse(readFileSync(join(dir, DISCO_CACHE_FILE), 'utf8'));
  t.is(saved.caps.length, 2);

  const metrics = new Metrics();
  const second = new DiscoCacheHook({ dataDir: dir, metrics });
  t.teardown(() => second.close());
  second.inbound(presence('benvolio@b.example/g7', 'nurse@a.example'), recordingCtx(link));
  const ctx = recordingCtx(link);
  t.is(second.outbound(discoGet('nurse@a.example/n', 'benvolio@b.example/g7', 'r1', nodeVer(gajim)), ctx), 'consumed');
  t.is(ctx.local[0].getChild('query', DISCO)!.attr('node'), nodeVer(gajim));
  t.is(computeCapsVer(ctx.local[0].getChild('query', DISCO)!), verOf(gajim));
});

test('a tampered cache file entry is re-verified at load and dropped', async (t) => {
  const dir = tempDir(t);
  const first = new DiscoCacheHook({ dataDir: dir });
  learn(first, conversations, 'romeo@b.example/c1', 'a1');
  learn(first, dino, 'kay@b.example/d1', 'a2');
  await first.close();
  const path = join(dir, DISCO_CACHE_FILE);
  const doc = JSON.parse(readFileSync(path, 'utf8'));
  doc.caps[0][3] = doc.caps[0][3].replace('urn:xmpp:ping', 'urn:xmpp:evil');
  writeFileSync(path, JSON.stringify(doc));
  const metrics = new Metrics();
  const second = new DiscoCacheHook({ dataDir: dir, metrics });
  t.teardown(() => second.close());
  t.false(second.hasCaps(nodeVer(conversations)));
  t.true(second.hasCaps(nodeVer(dino)));
  t.is(metrics.get('optimize_store_errors_total', { op: 'entry' }), 1);
});

test('an unreadable cache file starts empty and is counted, never a crash', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, DISCO_CACHE_FILE), '{"v":1,"caps":[');
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ dataDir: dir, metrics });
  t.deepEqual(hook.size(), { caps: 0, plain: 0 });
  t.is(metrics.get('optimize_store_errors_total', { op: 'parse' }), 1);
});

test('bounded eviction: LRU by size, and idle age for caps entries', (t) => {
  let now = 0;
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics, maxEntries: 2, capsMaxAgeMs: 10_000, now: () => now });
  learn(hook, conversations, 'a@b.example/1', 'e1');
  now += 1000;
  learn(hook, gajim, 'b@b.example/1', 'e2');
  now += 1000;
  hook.inbound(presence('c@b.example/1', 'x@a.example'), recordingCtx(link));
  // Use Conversations: Gajim becomes least recently used.
  t.is(hook.outbound(discoGet('x@a.example/1', 'c@b.example/1', 'e3', nodeVer(conversations)), recordingCtx(link)), 'consumed');
  learn(hook, dino, 'd@b.example/1', 'e4');
  t.true(hook.hasCaps(nodeVer(conversations)));
  t.false(hook.hasCaps(nodeVer(gajim)));
  t.true(hook.hasCaps(nodeVer(dino)));
  t.is(metrics.get('optimize_cache_evictions_total', { reason: 'size' }), 1);

  now += 10_001;
  const q = discoGet('x@a.example/1', 'c@b.example/1', 'e5', nodeVer(dino));
  t.is(hook.outbound(q, recordingCtx(link)), q, 'idle past the max age: crosses again');
  t.false(hook.hasCaps(nodeVer(dino)));
  t.is(metrics.get('optimize_cache_evictions_total', { reason: 'age' }), 1);
});

test('the pending-query map is bounded: an old query id is forgotten, a result then needs its own node', (t) => {
  const hook = new DiscoCacheHook({ maxPending: 2 });
  const ctx = recordingCtx(link);
  hook.outbound(discoGet('j@a.example/1', 'r@b.example/1', 'old', nodeVer(conversations)), ctx);
  hook.outbound(discoGet('j@a.example/1', 'r@b.example/2', 'n1', 'urn:x'), ctx);
  hook.outbound(discoGet('j@a.example/1', 'r@b.example/3', 'n2', 'urn:y'), ctx);
  hook.inbound(discoResult('r@b.example/1', 'j@a.example/1', 'old', conversations), recordingCtx(link));
  t.false(hook.hasCaps(nodeVer(conversations)), 'no node known: stored as a plain entry only');
  t.is(hook.size().plain, 1);
});

test('stanzas that are not disco#info queries pass untouched', (t) => {
  const hook = new DiscoCacheHook();
  const ping = parseXml(`<iq xmlns='jabber:server' type='get' from='j@a.example/1' to='b.example' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`);
  const msg = parseXml(`<message xmlns='jabber:server' from='j@a.example/1' to='r@b.example' id='m'><body>hi</body></message>`);
  t.is(hook.outbound(ping, recordingCtx(link)), ping);
  t.is(hook.outbound(msg, recordingCtx(link)), msg);
  t.deepEqual(hook.inbound(msg, recordingCtx(link)).map(canon), [canon(msg)]);
});

test('a full-JID query is answered only while that JID\'s last presence seen crossing the link is available', (t) => {
  const metrics = new Metrics();
  const hook = new DiscoCacheHook({ metrics });
  const bob = 'bob@b.example/lab';
  hook.inbound(presence(bob, 'juliet@a.example'), recordingCtx(link));
  learn(hook, conversations, bob, 'l1');
  const ask = (to: string, id: string, node: string | undefined = nodeVer(conversations)) => {
    const q = discoGet('juliet@a.example/balcony', to, id, node);
    return hook.outbound(q, recordingCtx(link)) === 'consumed' ? 'answered' : 'passed';
  };
  t.is(ask(bob, 'q1'), 'answered', 'bob is online');
  hook.inbound(presence(bob, 'juliet@a.example', 'unavailable'), recordingCtx(link));
  t.is(ask(bob, 'q2'), 'passed', 'bob went offline: his server answers (service-unavailable), not the cache');
  t.is(ask('bob@b.example/never-seen', 'q3'), 'passed', 'a resource never seen is not answered for');
  t.is(ask('bob@b.example', 'q4'), 'answered', 'a bare JID (the account, answered by its server) still is');
  t.is(metrics.get('optimize_cache_bypass_total', { reason: 'client_unavailable' }), 2);
  hook.inbound(presence(bob, 'juliet@a.example'), recordingCtx(link));
  t.is(ask(bob, 'q5'), 'answered', 'back online');
  hook.inbound(presence(bob, 'juliet@a.example', 'subscribe'), recordingCtx(link));
  t.is(ask(bob, 'q6'), 'answered', 'a subscription request says nothing about availability');
  hook.inbound(presence('bob@b.example', 'juliet@a.example', 'unavailable'), recordingCtx(link));
  t.is(ask(bob, 'q7'), 'passed', 'unavailable from the bare JID covers every resource');
  hook.inbound(presence(bob, 'juliet@a.example'), recordingCtx(link));
  hook.inbound(presence(bob, 'juliet@a.example', 'error'), recordingCtx(link));
  t.is(ask(bob, 'q8'), 'passed', 'a presence error means it cannot be reached');
});

test('plain (JID, node) entries for a client follow its presence too; presence seen outbound counts as well', (t) => {
  const hook = new DiscoCacheHook();
  const kay = 'kay@b.example/d1';
  hook.outbound(presence(kay, 'juliet@a.example'), recordingCtx(link)); // (either direction of the link)
  t.not(hook.outbound(discoGet('juliet@a.example/x', kay, 'p1'), recordingCtx(link)), 'consumed');
  hook.inbound(discoResult(kay, 'juliet@a.example/x', 'p1', dino), recordingCtx(link));
  t.is(hook.outbound(discoGet('romeo@a.example/y', kay, 'p2'), recordingCtx(link)), 'consumed');
  hook.outbound(presence(kay, 'juliet@a.example', 'unavailable'), recordingCtx(link));
  const q = discoGet('romeo@a.example/y', kay, 'p3');
  t.is(hook.outbound(q, recordingCtx(link)), q);
});

/**
 * Benchmark workloads: stanzas as modern clients (Conversations, Gajim, Dino)
 * and a MUC service put them on S2S between a.example (ship) and b.example
 * (shore). Seeded: the same (name, count, seed) gives the same stanzas.
 *
 * Each stanza is tracked by `key` = id + "\n" + to (MUC copies share the id,
 * as a MUC service sends them, and differ in `to`). An iq get expects an
 * answer from the far side: `replyFor()` builds it (the far "client").
 */
import { x, type XmlElement } from '../xml/element.ts';
import { Rng } from '../emulator/index.ts';
import { computeCapsVer } from '../optimize/index.ts';
import { buildSecurityLabel, specToEss } from '../policy/labels/index.ts';

export const WORKLOADS = ['chat', 'presence-storm', 'muc', 'disco', 'mixed', 'labelled-chat'] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export type Side = 'a' | 'b';

export interface BenchStanza {
  el: XmlElement;
  /** The side whose server sends it. */
  from: Side;
  /** id + "\n" + to: unique per workload. */
  key: string;
  kind: 'message' | 'presence' | 'iq';
  /** Serialized size in bytes. */
  bytes: number;
  /** Injection wave: each wave goes in one burst once the previous one has arrived (default 1; the cold probe is 0). */
  wave?: number;
}

export class WorkloadError extends Error {
  readonly code = 'BENCH_BAD_WORKLOAD';
  constructor(message: string) {
    super(message);
    this.name = 'WorkloadError';
  }
}

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_CAPS = 'http://jabber.org/protocol/caps';

/** A client as it answers disco#info (XEP-0030) and advertises caps (XEP-0115). */
interface ClientKind {
  node: string;
  resource: (rng: Rng) => string;
  identity: { category: string; type: string; name: string };
  features: string[];
}

const COMMON = [
  'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/chatstates', NS_DISCO_INFO,
  'http://jabber.org/protocol/disco#items', 'urn:xmpp:receipts', 'urn:xmpp:chat-markers:0', 'urn:xmpp:ping',
  'urn:xmpp:message-correct:0', 'urn:xmpp:idle:1', 'jabber:iq:version', 'urn:xmpp:time',
];
const CLIENTS: ClientKind[] = [
  {
    node: 'http://conversations.im',
    resource: (r) => `Conversations.${token(r, 4)}`,
    identity: { category: 'client', type: 'phone', name: 'Conversations' },
    features: [...COMMON, 'eu.siacs.conversations.axolotl.devicelist+notify', 'urn:xmpp:avatar:metadata+notify', 'urn:xmpp:jingle:1',
      'urn:xmpp:jingle:apps:rtp:1', 'urn:xmpp:jingle:apps:rtp:audio', 'urn:xmpp:jingle:apps:rtp:video', 'urn:xmpp:jingle-message:0',
      'http://jabber.org/protocol/nick+notify', 'urn:xmpp:bookmarks:1+notify', 'urn:xmpp:reactions:0', 'urn:xmpp:message-retract:1'],
  },
  {
    node: 'https://gajim.org',
    resource: (r) => `gajim.${token(r, 8)}`,
    identity: { category: 'client', type: 'pc', name: 'Gajim' },
    features: [...COMMON, 'http://jabber.org/protocol/muc', 'http://jabber.org/protocol/xhtml-im', 'eu.siacs.conversations.axolotl.devicelist+notify',
      'urn:xmpp:avatar:metadata+notify', 'http://jabber.org/protocol/tune+notify', 'http://jabber.org/protocol/geoloc+notify', 'urn:xmpp:hints',
      'urn:xmpp:sid:0', 'urn:xmpp:bookmarks:1+notify', 'jabber:x:conference'],
  },
  {
    node: 'https://dino.im',
    resource: (r) => `dino.${token(r, 8)}`,
    identity: { category: 'client', type: 'pc', name: 'Dino' },
    features: [...COMMON, 'http://jabber.org/protocol/muc', 'urn:xmpp:jingle:1', 'urn:xmpp:jingle:transports:ice-udp:1', 'urn:xmpp:jingle:apps:file-transfer:5',
      'eu.siacs.conversations.axolotl.devicelist+notify', 'urn:xmpp:omemo:2:devices+notify', 'urn:xmpp:reply:0', 'urn:xmpp:message-moderate:0'],
  },
];

function discoQuery(c: ClientKind, node?: string): XmlElement {
  const q = x(
    'query',
    { xmlns: NS_DISCO_INFO, node },
    x('identity', { category: c.identity.category, type: c.identity.type, name: c.identity.name }),
    c.features.map((f) => x('feature', { var: f })),
  );
  // The builder does not inherit namespaces: the children are in the query's (as a parser would say).
  for (const ch of q.children) if (typeof ch !== 'string') ch.ns = NS_DISCO_INFO;
  return q;
}

/** The caps ver (XEP-0115 §5.1, sha-1) per client kind. */
const VERS = CLIENTS.map((c) => computeCapsVer(discoQuery(c))!);

function token(rng: Rng, n: number): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < n; i++) s += abc[rng.int(abc.length)];
  return s;
}

function uuid(rng: Rng): string {
  const h = (n: number): string => Array.from({ length: n }, () => rng.int(16).toString(16)).join('');
  return `${h(8)}-${h(4)}-4${h(3)}-${(8 + rng.int(4)).toString(16)}${h(3)}-${h(12)}`;
}

const NAMES_A = ['alice', 'arne', 'astrid', 'anton', 'aiko', 'amara', 'axel', 'ana', 'ahmed', 'agnes'];
const NAMES_B = ['bob', 'bea', 'bjorn', 'bruno', 'bella', 'boris', 'bianca', 'bilal', 'berit', 'basil'];
const PHRASES = [
  'Position 12.34N 056.78E, speed 11 kn, all well on board.',
  'ETA at the pilot station moved to 06:30 UTC, please confirm the berth.',
  'Can you send the updated weather routing for the next 48 h?',
  'Received, thanks. Will forward to the chief engineer.',
  'Spare parts order 4471 is confirmed, delivery by launch at anchorage.',
  'Crew change list attached to the agency mail, two joiners, one leaver.',
  'ok',
  'Morning! Fuel figures: HFO 412 t, MGO 88 t, consumption 31 t/day.',
  'Heavy swell from the NW since midnight, reduced speed to 9 kn.',
  'Please call back when you have coverage, nothing urgent.',
  'The port state inspection went fine, no deficiencies.',
  'Happy birthday from all of us on the bridge 🎉',
];

interface User {
  jid: string; // full JID
  bare: string;
  client: number;
}

function users(rng: Rng, names: string[], domain: string, count: number): User[] {
  return Array.from({ length: count }, (_, i) => {
    const client = rng.int(CLIENTS.length);
    const bare = `${names[i % names.length]}${i >= names.length ? Math.floor(i / names.length) : ''}@${domain}`;
    return { bare, jid: `${bare}/${CLIENTS[client].resource(rng)}`, client };
  });
}

function stanza(el: XmlElement, from: Side): BenchStanza {
  return { el, from, key: `${el.attr('id')}\n${el.attr('to')}`, kind: el.local as BenchStanza['kind'], bytes: el.toBuffer().length };
}

/** A chat message as Conversations/Gajim/Dino send it (XEP-0359 origin-id, XEP-0184 request, XEP-0333 markable, XEP-0085 active). */
function chatMessage(rng: Rng, from: User, to: User): XmlElement {
  const id = uuid(rng);
  return x(
    'message',
    { from: from.jid, to: to.bare, type: 'chat', id, 'xml:lang': 'en' },
    x('body', {}, PHRASES[rng.int(PHRASES.length)]),
    x('request', { xmlns: 'urn:xmpp:receipts' }),
    x('markable', { xmlns: 'urn:xmpp:chat-markers:0' }),
    x('origin-id', { xmlns: 'urn:xmpp:sid:0', id }),
    x('active', { xmlns: 'http://jabber.org/protocol/chatstates' }),
  );
}

/** The labels a coalition client offers from its catalog (XEP-0258 §4): ESS, one policy, a release category on the higher one. */
const BENCH_POLICY = '1.3.6.1.4.1.99999.1';
const CHAT_LABELS = [
  buildSecurityLabel(specToEss({ policy: BENCH_POLICY, classification: 1 }), { text: 'UNCLASSIFIED', fg: 'black', bg: 'green' }),
  buildSecurityLabel(specToEss({ policy: BENCH_POLICY, classification: 2, categories: ['1.3.6.1.4.1.99999.2.1=REL NATO'] }), { text: 'NATO RESTRICTED', fg: 'black', bg: 'aqua' }),
];

/** chat, with every message carrying one of the catalog's labels (receipts and markers go unlabeled, as clients send them). */
function labelledChat(rng: Rng, n: number, ua: User[], ub: User[]): BenchStanza[] {
  return chat(rng, n, ua, ub).map((s) => (s.el.getChild('body') ? stanza(s.el.clone().append(CHAT_LABELS[rng.int(CHAT_LABELS.length)].clone()), s.from) : s));
}

/** A delivery receipt (XEP-0184) or displayed marker (XEP-0333) for a message. */
function ackMessage(rng: Rng, from: User, to: User, ofId: string, displayed: boolean): XmlElement {
  return x(
    'message',
    { from: from.jid, to: to.jid, type: 'chat', id: uuid(rng) },
    displayed ? x('displayed', { xmlns: 'urn:xmpp:chat-markers:0', id: ofId }) : x('received', { xmlns: 'urn:xmpp:receipts', id: ofId }),
    x('store', { xmlns: 'urn:xmpp:hints' }),
  );
}

/** Available presence as a client broadcasts it on login, addressed by its server to one contact. */
function presence(rng: Rng, from: User, toBare: string): XmlElement {
  const c = from.client;
  const shows = [undefined, undefined, undefined, 'away', 'xa', 'dnd', 'chat'];
  const show = shows[rng.int(shows.length)];
  const since = new Date(Date.UTC(2026, 10, 23, rng.int(24), rng.int(60), rng.int(60))).toISOString().replace('.000', '');
  return x(
    'presence',
    { from: from.jid, to: toBare, id: uuid(rng) },
    show ? x('show', {}, show) : undefined,
    rng.chance(0.3) ? x('status', {}, ['On watch', 'In port', 'Off duty', 'Back at 14:00'][rng.int(4)]) : undefined,
    x('priority', {}, String([0, 5, 10, 50][rng.int(4)])),
    x('c', { xmlns: NS_CAPS, hash: 'sha-1', node: CLIENTS[c].node, ver: VERS[c] }),
    x('x', { xmlns: 'vcard-temp:x:update' }, x('photo', {}, Array.from({ length: 40 }, () => rng.int(16).toString(16)).join(''))),
    show === 'away' || show === 'xa' ? x('idle', { xmlns: 'urn:xmpp:idle:1', since }) : undefined,
  );
}

/** A caps-driven disco#info query (XEP-0115 §6.2) for node#ver. */
function discoGet(rng: Rng, from: User, to: User): XmlElement {
  const c = to.client;
  return x('iq', { from: from.jid, to: to.jid, type: 'get', id: uuid(rng) }, x('query', { xmlns: NS_DISCO_INFO, node: `${CLIENTS[c].node}#${VERS[c]}` }));
}

function pingGet(rng: Rng, from: User, to: User): XmlElement {
  return x('iq', { from: from.jid, to: to.jid, type: 'get', id: uuid(rng) }, x('ping', { xmlns: 'urn:xmpp:ping' }));
}

/** What the far side answers to an iq get/set: the disco#info result for a known caps node, or an empty result. */
export function replyFor(iq: XmlElement): XmlElement | undefined {
  const type = iq.attr('type');
  if (iq.local !== 'iq' || (type !== 'get' && type !== 'set')) return undefined;
  const q = iq.children.find((c): c is XmlElement => typeof c !== 'string');
  const attrs = { from: iq.attr('to'), to: iq.attr('from'), type: 'result', id: iq.attr('id') };
  if (q?.local === 'query' && q.attr('xmlns') === NS_DISCO_INFO) {
    const node = q.attr('node') ?? '';
    const i = CLIENTS.findIndex((c, k) => node === `${c.node}#${VERS[k]}`);
    if (i >= 0) return x('iq', attrs, discoQuery(CLIENTS[i], node));
  }
  return x('iq', attrs);
}

function chat(rng: Rng, n: number, ua: User[], ub: User[]): BenchStanza[] {
  const out: BenchStanza[] = [];
  while (out.length < n) {
    const a = ua[rng.int(ua.length)];
    const b = ub[rng.int(ub.length)];
    const fromA = out.length === 0 || rng.chance(0.6);
    const m = fromA ? chatMessage(rng, a, b) : chatMessage(rng, b, a);
    out.push(stanza(m, fromA ? 'a' : 'b'));
    // The recipient's client sends back a receipt, sometimes a displayed marker.
    if (out.length < n && rng.chance(0.35)) out.push(stanza(ackMessage(rng, fromA ? b : a, fromA ? a : b, m.attr('id')!, rng.chance(0.4)), fromA ? 'b' : 'a'));
  }
  return out;
}

/** Unique (from, to) presences: contacts logging in (a fresh resource each), each sending to all of their contacts on the far side. */
function presenceStorm(rng: Rng, n: number, ua: User[], ub: User[]): BenchStanza[] {
  const out: BenchStanza[] = [];
  const rosterA = ua.slice(0, 50);
  const rosterB = ub.slice(0, 50);
  const logins = { a: 0, b: 0 };
  for (let i = 0; out.length < n; i++) {
    const side: Side = i % 5 !== 4 ? 'a' : 'b'; // most logins on the ship side, some on shore
    const pool = side === 'a' ? rosterA : rosterB;
    const who = pool[logins[side]++ % pool.length];
    const user: User = { ...who, jid: `${who.bare}/${CLIENTS[who.client].resource(rng)}` };
    // One initial presence, broadcast by the user's server to each contact unchanged but for `to` (RFC 6121 §4.2.2).
    const initial = presence(rng, user, '');
    for (const c of side === 'a' ? rosterB : rosterA) {
      if (out.length >= n) break;
      out.push(stanza(initial.clone().setAttr('to', c.bare), side));
    }
  }
  return out;
}

/** A groupchat message from a room to its occupants on the far side: identical but for `to` (XEP-0045 §7.4, XEP-0359, XEP-0421). */
function muc(rng: Rng, n: number, ub: User[]): BenchStanza[] {
  const out: BenchStanza[] = [];
  const occupants = ub.slice(0, 10);
  const nicks = ['Captain', 'Chief', 'Bosun', 'Cadet', 'Radio'];
  while (out.length < n) {
    const id = uuid(rng);
    const occ = rng.int(nicks.length);
    const body = PHRASES[rng.int(PHRASES.length)];
    const stanzaId = uuid(rng);
    for (const o of occupants) {
      if (out.length >= n) break;
      const el = x(
        'message',
        { from: `bridge@muc.a.example/${nicks[occ]}`, to: o.jid, type: 'groupchat', id, 'xml:lang': 'en' },
        x('body', {}, body),
        x('occupant-id', { xmlns: 'urn:xmpp:occupant-id:0', id: `${nicks[occ].toLowerCase()}-Zq4TpW8nYk2Lr0vHcXe7` }),
        x('stanza-id', { xmlns: 'urn:xmpp:sid:0', id: stanzaId, by: 'bridge@muc.a.example' }),
        x('markable', { xmlns: 'urn:xmpp:chat-markers:0' }),
      );
      out.push(stanza(el, 'a'));
    }
  }
  return out;
}

/**
 * Caps-driven disco#info (XEP-0115 §6.2): many contacts ask about the same few
 * node#ver values, each after the client it asks has sent its presence across
 * (the near-side cache answers for a client only while its last presence said
 * it is there). The first query is the cold probe and has no presence before it.
 */
function disco(rng: Rng, n: number, ua: User[], ub: User[]): BenchStanza[] {
  const out: BenchStanza[] = [];
  const online = new Set<string>();
  while (out.length < n) {
    const fromB = rng.chance(0.7);
    const [askers, targets] = fromB ? [ub, ua] : [ua, ub];
    const asker = askers[rng.int(askers.length)];
    let target = targets[rng.int(targets.length)];
    if (out.length > 0 && !online.has(target.jid) && out.length + 2 > n) {
      // One slot left: ask a client already online, else send one more presence.
      const known = targets.filter((u) => online.has(u.jid));
      if (known.length === 0) {
        out.push(stanza(presence(rng, target, asker.bare), fromB ? 'a' : 'b'));
        break;
      }
      target = known[rng.int(known.length)];
    }
    if (out.length > 0 && !online.has(target.jid)) {
      online.add(target.jid);
      out.push(stanza(presence(rng, target, asker.bare), fromB ? 'a' : 'b'));
    }
    out.push(stanza(discoGet(rng, asker, target), fromB ? 'b' : 'a'));
  }
  return out;
}

/**
 * Caps queries arrive spread out in real life: presence first, then the first
 * contact to see a new ver asks, the rest of the roster asks later. Wave 1
 * holds the presences, wave 2 the first query per (node#ver, direction),
 * wave 3 the repeats.
 */
function discoWaves(list: BenchStanza[]): BenchStanza[] {
  const seen = new Set<string>();
  list.forEach((s, i) => {
    const q = s.el.children.find((c): c is XmlElement => typeof c !== 'string');
    const k = `${s.from}\n${q?.attr('node') ?? ''}`;
    if (i === 0) seen.add(k);
    else if (s.kind === 'presence') s.wave = 1;
    else {
      s.wave = seen.has(k) ? 3 : 2;
      seen.add(k);
    }
  });
  return list;
}

/** About 70 % presence, 20 % message, 10 % iq by count, interleaved. */
function mixed(rng: Rng, n: number, ua: User[], ub: User[]): BenchStanza[] {
  const pres = presenceStorm(rng, Math.round(n * 0.7), ua, ub);
  const msgs = chat(rng, Math.round(n * 0.2), ua, ub);
  const iqs: BenchStanza[] = [];
  while (iqs.length < n - pres.length - msgs.length) {
    const a = ua[rng.int(ua.length)];
    const b = ub[rng.int(ub.length)];
    const el = rng.chance(0.7) ? discoGet(rng, b, a) : pingGet(rng, a, b);
    iqs.push(stanza(el, el.attr('from') === a.jid ? 'a' : 'b'));
  }
  const out: BenchStanza[] = [msgs.shift() ?? pres.shift()!];
  const lists = [pres, msgs, iqs];
  while (out.length < n) {
    const left = lists.map((l) => l.length);
    const total = left.reduce((a, b) => a + b, 0);
    let pick = rng.int(total);
    let i = 0;
    while (pick >= left[i]) pick -= left[i++];
    out.push(lists[i].shift()!);
  }
  return out;
}

/** `count` stanzas of workload `name`. The first one goes from side A (the cold-start probe). */
export function makeWorkload(name: string, count: number, seed: number): BenchStanza[] {
  if (!Number.isInteger(count) || count < 1) throw new WorkloadError(`stanza count must be a positive integer, got ${count}`);
  const rng = new Rng(seed);
  const ua = users(rng, NAMES_A, 'a.example', 40);
  const ub = users(rng, NAMES_B, 'b.example', 60);
  switch (name) {
    case 'chat':
      return chat(rng, count, ua, ub);
    case 'presence-storm':
      return presenceStorm(rng, count, ua, ub);
    case 'muc':
      return muc(rng, count, ub);
    case 'disco':
      return discoWaves(disco(rng, count, ua, ub).map((s, i) => (i === 0 && s.from !== 'a' ? stanza(discoGet(rng, ua[0], ub[0]), 'a') : s)));
    case 'mixed':
      return mixed(rng, count, ua, ub);
    case 'labelled-chat':
      return labelledChat(rng, count, ua, ub);
    default:
      throw new WorkloadError(`unknown workload "${name}" (one of ${WORKLOADS.join(', ')})`);
  }
}

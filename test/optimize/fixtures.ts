/** Realistic stanzas from modern clients (Conversations, Gajim, Dino) for optimize/ tests. */
import { createHash } from 'node:crypto';
import { XmlElement } from '../../src/xml/element.ts';
import { parseXml } from '../../src/xml/index.ts';
import type { RelayLink } from '../../src/link/port.ts';
import type { HookContext } from '../../src/xmpp/hooks.ts';

export const DISCO = 'http://jabber.org/protocol/disco#info';
export const CAPS = 'http://jabber.org/protocol/caps';

export interface Client {
  node: string;
  identity: [category: string, type: string, name: string];
  features: string[];
}

export const conversations: Client = {
  node: 'http://conversations.im',
  identity: ['client', 'phone', 'Conversations'],
  features: [
    'eu.siacs.conversations.axolotl.devicelist+notify', 'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/chatstates',
    'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/muc', 'http://jabber.org/protocol/nick+notify',
    'jabber:iq:version', 'jabber:x:conference', 'jabber:x:oob', 'urn:xmpp:avatar:metadata+notify', 'urn:xmpp:chat-markers:0',
    'urn:xmpp:jingle-message:0', 'urn:xmpp:jingle:1', 'urn:xmpp:jingle:apps:file-transfer:3', 'urn:xmpp:jingle:apps:rtp:1',
    'urn:xmpp:jingle:apps:rtp:audio', 'urn:xmpp:jingle:apps:rtp:video', 'urn:xmpp:jingle:transports:ibb:1',
    'urn:xmpp:jingle:transports:ice-udp:1', 'urn:xmpp:jingle:transports:s5b:1', 'urn:xmpp:ping', 'urn:xmpp:receipts', 'urn:xmpp:time',
  ],
};

export const gajim: Client = {
  node: 'https://gajim.org',
  identity: ['client', 'pc', 'Gajim'],
  features: [
    'http://jabber.org/protocol/bytestreams', 'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/chatstates',
    'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/muc',
    'http://jabber.org/protocol/nick+notify', 'http://jabber.org/protocol/si', 'http://jabber.org/protocol/si/profile/file-transfer',
    'http://jabber.org/protocol/xhtml-im', 'jabber:iq:last', 'jabber:iq:version', 'jabber:x:conference', 'urn:xmpp:avatar:metadata+notify',
    'urn:xmpp:chat-markers:0', 'urn:xmpp:eme:0', 'urn:xmpp:hashes:2', 'urn:xmpp:idle:1', 'urn:xmpp:message-correct:0',
    'urn:xmpp:ping', 'urn:xmpp:reactions:0', 'urn:xmpp:receipts', 'urn:xmpp:time',
  ],
};

export const dino: Client = {
  node: 'https://dino.im',
  identity: ['client', 'pc', 'Dino'],
  features: [
    'eu.siacs.conversations.axolotl.devicelist+notify', 'http://jabber.org/protocol/caps', 'http://jabber.org/protocol/chatstates',
    'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/muc', 'jabber:iq:version', 'jabber:x:conference',
    'urn:xmpp:avatar:metadata+notify', 'urn:xmpp:bookmarks:1+notify', 'urn:xmpp:chat-markers:0', 'urn:xmpp:jingle:1',
    'urn:xmpp:jingle:apps:rtp:1', 'urn:xmpp:mam:2', 'urn:xmpp:message-correct:0', 'urn:xmpp:ping', 'urn:xmpp:receipts',
  ],
};

/** XEP-0115 §5.1 by hand (no forms, one identity without xml:lang): the test's own oracle. */
export function verOf(c: Client, hash: 'sha1' | 'sha256' = 'sha1'): string {
  const [cat, type, name] = c.identity;
  const s = `${cat}/${type}//${name}<` + [...c.features].sort().map((f) => f + '<').join('');
  return createHash(hash).update(s, 'utf8').digest('base64');
}

/** Children of the client's disco#info answer, features in a shuffled-looking (reversed) order. */
export function queryXml(c: Client, node?: string, extraFeature?: string): string {
  const [cat, type, name] = c.identity;
  const feats = [...c.features].reverse();
  if (extraFeature) feats.push(extraFeature);
  return `<query xmlns='${DISCO}'${node ? ` node='${node}'` : ''}><identity category='${cat}' type='${type}' name='${name}'/>${feats.map((f) => `<feature var='${f}'/>`).join('')}</query>`;
}

export function capsXml(c: Client, hash: 'sha-1' | 'sha-256' = 'sha-1'): string {
  return `<c xmlns='${CAPS}' hash='${hash}' node='${c.node}' ver='${verOf(c, hash === 'sha-1' ? 'sha1' : 'sha256')}'/>`;
}

export const discoGet = (from: string, to: string, id: string, node?: string): XmlElement =>
  parseXml(`<iq xmlns='jabber:server' type='get' from='${from}' to='${to}' id='${id}'><query xmlns='${DISCO}'${node ? ` node='${node}'` : ''}/></iq>`);

export const discoResult = (from: string, to: string, id: string, c: Client, node?: string, extraFeature?: string): XmlElement =>
  parseXml(`<iq xmlns='jabber:server' type='result' from='${from}' to='${to}' id='${id}'>${queryXml(c, node, extraFeature)}</iq>`);

/** A bare presence from `from` (available, or `type` such as unavailable) as it crosses the link. */
export const presence = (from: string, to: string, type?: string): XmlElement =>
  parseXml(`<presence xmlns='jabber:server' from='${from}' to='${to}'${type ? ` type='${type}'` : ''}/>`);

/** A Gajim-style available presence with everything a modern client adds. */
export function richPresence(from: string, to: string, c: Client = gajim): XmlElement {
  return parseXml(
    `<presence xmlns='jabber:server' from='${from}' to='${to}' id='pres-1'><show>away</show><status>on the bridge</status><priority>10</priority>` +
      `${capsXml(c)}<x xmlns='vcard-temp:x:update'><photo>8d5d2e6bd8ac8d3cda8c6b3d0bd9d0e3f26ae1ad</photo></x>` +
      `<idle xmlns='urn:xmpp:idle:1' since='2026-11-23T16:45:00Z'/><nick xmlns='http://jabber.org/protocol/nick'>Alice</nick>` +
      `<x xmlns='jabber:x:signed'>iQEcBAEBAgAGBQJYq</x></presence>`,
  );
}

export function mucOccupantPresence(room: string, nick: string, to: string): XmlElement {
  return parseXml(
    `<presence xmlns='jabber:server' from='${room}/${nick}' to='${to}' id='occ-${nick}'>${capsXml(dino)}` +
      `<x xmlns='vcard-temp:x:update'><photo/></x><occupant-id xmlns='urn:xmpp:occupant-id:0' id='dGhlLW9jY3VwYW50'/>` +
      `<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='${nick}@a.example/dino.x1'/></x></presence>`,
  );
}

export function groupchat(room: string, nick: string, to: string, n: number): XmlElement {
  return parseXml(
    `<message xmlns='jabber:server' from='${room}/${nick}' to='${to}' type='groupchat' id='gc-${n}'>` +
      `<body>status report ${n}</body><origin-id xmlns='urn:xmpp:sid:0' id='6f2ba6c1-${n}'/>` +
      `<stanza-id xmlns='urn:xmpp:sid:0' id='Z9n0Q1${n}' by='${room}'/><markable xmlns='urn:xmpp:chat-markers:0'/></message>`,
  );
}

export function chat(from: string, to: string, n: number): XmlElement {
  return parseXml(
    `<message xmlns='jabber:server' from='${from}' to='${to}' type='chat' id='m-${n}'><body>msg ${n}</body>` +
      `<request xmlns='urn:xmpp:receipts'/><markable xmlns='urn:xmpp:chat-markers:0'/><origin-id xmlns='urn:xmpp:sid:0' id='o-${n}'/></message>`,
  );
}

export const fakeLink = (name = 'shore', domains: string[] = ['b.example', '*.b.example']): RelayLink =>
  ({
    name, domains, async start() {}, async send() {}, async stop() {},
    status: () => ({ name, transport: 'test', up: true, queued: 0, inFlight: 0, sent: 0, received: 0 }),
  }) as RelayLink;

/** A hook context for the link named `link`, recording what the hook answers each way. */
export function recordingCtx(link = 'shore'): HookContext & { local: XmlElement[]; remote: XmlElement[] } {
  const local: XmlElement[] = [];
  const remote: XmlElement[] = [];
  return { link, local, remote, replyLocal: (el) => local.push(el), replyRemote: (el) => remote.push(el) };
}

/** Serialized form with every cached raw dropped (fresh serialization, comparable across parse/edit). */
export function canon(el: XmlElement): string {
  const strip = (e: XmlElement): XmlElement => new XmlElement(e.name, { ...e.attrs }, e.children.map((c) => (typeof c === 'string' ? c : strip(c))), e.ns);
  return strip(el).toString();
}

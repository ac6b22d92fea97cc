/** A realistic chat corpus (messages, receipts, chat states, presence, iq) for compression figures. */
import { rng } from './pair.ts';

const WORDS = ('the ship is at the dock weather report wind north ten knots crew meeting at noon please confirm ' +
  'position fuel status ok roger that will call back later arriving tomorrow morning sea state moderate ' +
  'engine check done cargo loaded send the manifest thanks see you').split(' ');

export function chatCorpus(n: number, seed = 7): Buffer[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  const users = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'];
  const res = ['phone', 'laptop', 'Conversations.x7Qa', 'gajim.KJ2L'];
  const hex = (k: number) => Array.from({ length: k }, () => Math.floor(r() * 16).toString(16)).join('');
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const from = `${pick(users)}@a.example/${pick(res)}`;
    const to = `${pick(users)}@b.example`;
    const kind = r();
    let s: string;
    if (kind < 0.55) {
      const body = Array.from({ length: 3 + Math.floor(r() * 14) }, () => pick(WORDS)).join(' ');
      const id = hex(16);
      s = `<message xmlns="jabber:server" type="chat" from="${from}" to="${to}" id="${id}"><body>${body}</body>` +
        `<active xmlns="http://jabber.org/protocol/chatstates"/><request xmlns="urn:xmpp:receipts"/>` +
        `<origin-id xmlns="urn:xmpp:sid:0" id="${id}"/><markable xmlns="urn:xmpp:chat-markers:0"/></message>`;
    } else if (kind < 0.7) {
      s = `<message xmlns="jabber:server" from="${from}" to="${to}" id="${hex(12)}"><received xmlns="urn:xmpp:receipts" id="${hex(16)}"/></message>`;
    } else if (kind < 0.8) {
      s = `<message xmlns="jabber:server" type="chat" from="${from}" to="${to}"><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`;
    } else if (kind < 0.95) {
      const show = pick(['away', 'xa', 'dnd', 'chat']);
      s = `<presence xmlns="jabber:server" from="${from}" to="${to}"><show>${show}</show><priority>5</priority>` +
        `<c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://conversations.im" ver="${hex(27)}="/></presence>`;
    } else {
      s = `<iq xmlns="jabber:server" type="get" from="${from}" to="${to}" id="${hex(10)}"><query xmlns="http://jabber.org/protocol/disco#info"/></iq>`;
    }
    out.push(Buffer.from(s));
  }
  return out;
}

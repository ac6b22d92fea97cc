/** The class of a stanza, as a metered bearer's `carry` list names it. */
import type { StanzaClass } from '../../config/metered.ts';
import type { XmlElement } from '../../xml/element.ts';
import { NS } from '../../xmpp/ns.ts';

/** disco: an iq whose payload is disco#info or disco#items (XEP-0030), request or result; iq: every other iq. */
export function stanzaClass(el: XmlElement): StanzaClass {
  switch (el.local) {
    case 'presence':
      return 'presence';
    case 'iq': {
      const q = el.elements()[0];
      return q && (q.ns === NS.DISCO_INFO || q.ns === NS.DISCO_ITEMS) ? 'disco' : 'iq';
    }
    default:
      return 'messages';
  }
}

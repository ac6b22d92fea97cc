/**
 * XMPP errors with their condition elements (RFC 6120 §8.3 stanza errors;
 * §4.9 stream errors live in xml/stream-error.ts, where the parser raises
 * them, and are re-exported here). Tests check `condition`, never message text.
 */
import { XmlElement, x } from '../xml/element.ts';
import { NS } from './ns.ts';

export { StreamError, type StreamErrorCondition } from '../xml/stream-error.ts';

export type StanzaErrorCondition =
  | 'bad-request' | 'conflict' | 'feature-not-implemented' | 'forbidden' | 'gone'
  | 'internal-server-error' | 'item-not-found' | 'jid-malformed' | 'not-acceptable'
  | 'not-allowed' | 'not-authorized' | 'policy-violation' | 'recipient-unavailable'
  | 'redirect' | 'registration-required' | 'remote-server-not-found'
  | 'remote-server-timeout' | 'resource-constraint' | 'service-unavailable'
  | 'subscription-required' | 'undefined-condition' | 'unexpected-request';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** Default error type per condition (RFC 6120 §8.3.3). */
const DEFAULT_TYPE: Partial<Record<StanzaErrorCondition, StanzaErrorType>> = {
  'bad-request': 'modify', 'jid-malformed': 'modify', 'not-acceptable': 'modify', 'policy-violation': 'modify',
  'forbidden': 'auth', 'not-authorized': 'auth', 'registration-required': 'auth', 'subscription-required': 'auth',
  'recipient-unavailable': 'wait', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait', 'unexpected-request': 'wait',
};

export class StanzaError extends Error {
  readonly code: string;
  readonly type: StanzaErrorType;
  /** The bounce carries none of the refused stanza's payload (e.g. XEP-0258 §5 protocol violations). */
  bare = false;
  constructor(readonly condition: StanzaErrorCondition, readonly text?: string, type?: StanzaErrorType) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_TYPE[condition] ?? 'cancel';
    this.code = `XMPP_STANZA_${condition.toUpperCase().replace(/-/g, '_')}`;
  }

  toElement(by?: string): XmlElement {
    return x(
      'error',
      { type: this.type, by },
      x(this.condition, { xmlns: NS.STANZAS_ERR }),
      this.text ? x('text', { xmlns: NS.STANZAS_ERR, 'xml:lang': 'en' }, this.text) : undefined,
    );
  }

  static fromStanza(stanza: XmlElement): StanzaError | undefined {
    const err = stanza.getChild('error');
    if (!err) return undefined;
    const cond = err.elements().find((c) => c.ns === NS.STANZAS_ERR && c.local !== 'text');
    return new StanzaError(
      (cond?.local ?? 'undefined-condition') as StanzaErrorCondition,
      err.getChildText('text', NS.STANZAS_ERR),
      (err.attr('type') as StanzaErrorType) ?? undefined,
    );
  }
}

/** True when bouncing this stanza is allowed (never bounce an error, RFC 6120 §8.3.1). */
export function canBounce(stanza: XmlElement): boolean {
  const type = stanza.attr('type');
  if (type === 'error') return false;
  if (stanza.local === 'iq') return type === 'get' || type === 'set';
  return stanza.local === 'message' || stanza.local === 'presence';
}

/**
 * The error reply to a stanza: from/to swapped, type="error", original payload
 * kept (RFC 6120 §8.3.1). Returns undefined when the stanza must not be bounced.
 */
export function bounce(stanza: XmlElement, error: StanzaError, by?: string): XmlElement | undefined {
  if (!canBounce(stanza)) return undefined;
  const reply = new XmlElement(stanza.local, {}, [], stanza.ns);
  for (const [k, v] of Object.entries(stanza.attrs)) if (k !== 'to' && k !== 'from' && k !== 'type') reply.attrs[k] = v;
  if (stanza.attr('from')) reply.attrs.to = stanza.attr('from')!;
  if (stanza.attr('to')) reply.attrs.from = stanza.attr('to')!;
  reply.attrs.type = 'error';
  const payload = error.bare ? [] : stanza.local === 'iq' ? stanza.elements() : stanza.children;
  for (const c of payload) reply.children.push(typeof c === 'string' ? c : c.clone());
  reply.children.push(error.toElement(by));
  return reply;
}

/**
 * Stream errors (RFC 6120 §4.9) with their condition elements. They live
 * here, below xmpp/, because the stream parser raises them (not-well-formed,
 * restricted-xml, ...); xmpp/errors.ts re-exports them beside stanza errors.
 * Tests check `condition` and `code`, never message text.
 */
import { x, type XmlElement } from './element.ts';
import { STREAM_NS } from './ns.ts';

export type StreamErrorCondition =
  | 'bad-format' | 'bad-namespace-prefix' | 'conflict' | 'connection-timeout' | 'host-gone'
  | 'host-unknown' | 'improper-addressing' | 'internal-server-error' | 'invalid-from'
  | 'invalid-namespace' | 'invalid-xml' | 'not-authorized' | 'not-well-formed'
  | 'policy-violation' | 'remote-connection-failed' | 'reset' | 'resource-constraint'
  | 'restricted-xml' | 'see-other-host' | 'system-shutdown' | 'undefined-condition'
  | 'unsupported-encoding' | 'unsupported-feature' | 'unsupported-stanza-type'
  | 'unsupported-version';

export class StreamError extends Error {
  readonly code: string;
  constructor(readonly condition: StreamErrorCondition, readonly text?: string) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StreamError';
    this.code = `XMPP_STREAM_${condition.toUpperCase().replace(/-/g, '_')}`;
  }

  /** <stream:error> element; the stream prefix must be declared by the stream header. */
  toElement(): XmlElement {
    return x(
      'stream:error',
      {},
      x(this.condition, { xmlns: STREAM_NS.STREAMS_ERR }),
      this.text ? x('text', { xmlns: STREAM_NS.STREAMS_ERR }, this.text) : undefined,
    );
  }

  static fromElement(el: XmlElement): StreamError {
    const cond = el.elements().find((c) => c.ns === STREAM_NS.STREAMS_ERR && c.local !== 'text');
    const text = el.getChildText('text', STREAM_NS.STREAMS_ERR);
    return new StreamError((cond?.local ?? 'undefined-condition') as StreamErrorCondition, text);
  }
}

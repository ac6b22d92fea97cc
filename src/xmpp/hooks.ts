/**
 * The stanza hook contract: a stage (policy, an optimizer) that may edit,
 * answer or refuse a stanza on its way between the local servers and a link.
 * The router (relay/router.ts) runs the hooks in order and fills the context;
 * a hook sees the link only by name, so policy/ and optimize/ need nothing
 * from relay/ or link/.
 */
import type { XmlElement } from '../xml/element.ts';
import type { StanzaError } from './errors.ts';

/** Where a hook runs: the link a stanza takes or came over, and how to answer. */
export interface HookContext {
  /** The link's name (links[].name): keys per-link state, labels logs and metrics. */
  readonly link: string;
  /** Delivers a stanza to the local servers (e.g. a disco#info answer from a cache). */
  replyLocal(stanza: XmlElement): void;
  /** Sends a stanza to the far side over this link. */
  replyRemote(stanza: XmlElement): void;
}

/**
 * What an outbound hook returns: the stanza to pass on (possibly edited),
 * 'consumed' (answered or folded on purpose, counted by the hook), or a
 * StanzaError to bounce to the sender (RFC 6120 §8.3).
 */
export type OutboundVerdict = XmlElement | 'consumed' | StanzaError;

export interface StanzaHook {
  readonly name: string;
  /** A stanza from a local server on its way to the link. */
  outbound?(stanza: XmlElement, ctx: HookContext): OutboundVerdict | Promise<OutboundVerdict>;
  /** A stanza from the link: the stanzas to deliver locally (none, one, or expanded), or an error to bounce across. */
  inbound?(stanza: XmlElement, ctx: HookContext): XmlElement[] | StanzaError;
}

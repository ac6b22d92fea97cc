/** What the router needs from a link to the partner relay, whatever its transport. */
import type { XmlElement } from '../xml/element.ts';
import type { StanzaError } from '../xmpp/errors.ts';

export interface LinkStatus {
  name: string;
  transport: string;
  up: boolean;
  queued: number;
  inFlight: number;
  rttMs?: number;
  lastError?: string;
  /** A link failing to connect to its partner: since when (ISO), for how long, how many attempts. */
  failingSince?: string;
  failingForS?: number;
  connectFailures?: number;
  sent: number;
  received: number;
  /** Durable links: stanzas in the spool, and the age of the oldest, s. */
  spooled?: number;
  oldestAgeS?: number;
}

export interface LinkHandlers {
  /**
   * A stanza arrived from the partner relay, for a local domain. Resolves when
   * it is written to a local server or bounced; rejects when the relay stops
   * first (a durable link then keeps it for the next start; the xep0361 link
   * bounces it back to the partner).
   */
  deliver(stanza: XmlElement): Promise<void> | void;
  /** A stanza this link accepted could not be carried (held too long, refused): bounce it to its sender. */
  undeliverable(stanza: XmlElement, err: StanzaError): void;
}

export interface RelayLink {
  readonly name: string;
  /** Remote domain patterns reached through this link. */
  readonly domains: readonly string[];
  start(handlers: LinkHandlers): Promise<void>;
  /**
   * Takes a stanza for the partner. Resolves once the link has taken
   * responsibility for it (durably, for spooled links); rejects with a
   * StanzaError when it refuses it (full, too big).
   */
  send(stanza: XmlElement): Promise<void>;
  status(): LinkStatus;
  stop(): Promise<void>;
}

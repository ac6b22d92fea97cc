/**
 * What a link offers the relay (RelayLink, LinkHandlers, LinkStatus), whatever
 * its transport, and what the constrained link asks of the relay in return: an
 * outbound scheduler (OutboundScheduler: the relay fills it with optimize's
 * OutboundQueue) and the clock (time/).
 */
import type { XmlElement } from '../xml/element.ts';
import type { StanzaError } from '../xmpp/errors.ts';
import type { BearerStatus } from './bearers/status.ts';

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
  /** A link over several bearers: each, in order of preference (up, current, bytes, cost so far today). */
  bearers?: BearerStatus[];
  sent: number;
  received: number;
  /** Durable links: stanzas in the spool, and the age of the oldest, s. */
  spooled?: number;
  oldestAgeS?: number;
  /** A link with a metered bearer: its spend today (link/metered/). */
  metered?: MeteredStatus;
}

/** The current bearer's spend of the UTC day, and what waits for a better one. */
export interface MeteredStatus {
  bearer: string;
  metered: boolean;
  /** UTC date the figures count for, YYYY-MM-DD. */
  day: string;
  /** Bytes counted on the bearer today, sent and received. */
  bytesToday: number;
  /** Their cost (cost_per_mb per 10^6 bytes). */
  costToday: number;
  currency: string;
  /** daily_budget_mb in bytes, and what is left of it (absent when not metered). */
  budgetBytes?: number;
  remainingBytes?: number;
  /** The budget is used up: only urgent stanzas cross. */
  spent: boolean;
  /** Stanza classes the bearer carries (absent when not metered: all). */
  carry?: readonly string[];
  /** Stanzas waiting now for an unmetered bearer. */
  held: number;
}

export interface LinkHandlers {
  /**
   * A stanza arrived from the partner relay, for a local domain. Resolves when
   * it is written to a local server or bounced; rejects when the relay stops
   * first (a durable link then keeps it for the next start; the xep0361 link
   * bounces it back to the partner). Called in the order stanzas arrived;
   * for a link with deliverInOrder the relay keeps that order per
   * destination domain (relay/local-delivery.ts).
   * `released` (a durable link): settles once the link has recorded, on disk,
   * that the stanza left its inbound spool. Until then a crash would deliver
   * it again, so it still counts against the delivery window.
   */
  deliver(stanza: XmlElement, released?: Promise<void>): Promise<void> | void;
  /** A stanza this link accepted could not be carried (held too long, refused): bounce it to its sender. */
  undeliverable(stanza: XmlElement, err: StanzaError): void;
}

export interface RelayLink {
  readonly name: string;
  /** Remote domain patterns reached through this link. */
  readonly domains: readonly string[];
  /**
   * The relay writes this link's stanzas to each local domain in arrival
   * order, at most local.delivery_window (default 128) before the local server
   * confirms the first (XEP-0198 ack, cumulative). A durable link forgets a
   * stanza only once it is confirmed, so after a restart (a kill -9, a power
   * loss) it resends up to delivery_window stanzas per local domain that the
   * server may already have received: with the default 1, at most one. A
   * local server without XEP-0198 confirms a stanza when it is written to the
   * stream, so the window never fills (relay/local-delivery.ts).
   */
  readonly deliverInOrder?: boolean;
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

/** A stanza accepted (spooled) and waiting for the link core. */
export interface ScheduledStanza {
  /** Durable spool id. */
  id: bigint;
  el: XmlElement;
  bytes: number;
  priority: 'high' | 'low';
  /** Wall-clock ms when the link accepted it. */
  acceptedAt: number;
}

/** What the scheduler hands out next: one stanza, or one standing for several spooled ones (folded). */
export interface TakenStanzas {
  /** Spool ids covered, ascending. */
  ids: bigint[];
  el: XmlElement;
  priority: 'high' | 'low';
}

/** A stanza the scheduler will not hand to the core (a metered bearer's spent budget): bounce it with `error`. */
export interface RefusedStanza {
  stanza: ScheduledStanza;
  /** link_refused_total's reason label. */
  reason: string;
  error: StanzaError;
}

/**
 * The order in which accepted stanzas go to the link core (priority, and
 * whatever the relay's optimizers do while they wait: coalescing, folding).
 * A pure data structure: times come from the caller.
 */
export interface OutboundScheduler {
  readonly length: number;
  /** Adds a stanza; returns the ids of queued stanzas it replaces (they need not cross). */
  push(s: ScheduledStanza): { superseded: bigint[] };
  take(): TakenStanzas | undefined;
  /** Removes and returns the stanzas accepted more than ageMs before now (wall ms). */
  expireOlderThan(now: number, ageMs: number): ScheduledStanza[];
  /** Removes and returns the stanzas it refuses to carry (link/metered/); absent: it refuses none. */
  refused?(): RefusedStanza[];
}

export type { Clock, Cancel } from '../time/index.ts';

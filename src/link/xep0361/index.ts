/**
 * link/xep0361 — XEP-0361 link mode: stanzas as top-level elements of an
 * implied jabber:server stream over one TCP connection, no header, no
 * negotiation; satrelay's resend-and-dedup acks when both ends are satrelays.
 * Holds stanzas in memory only. Must not import s2s/.
 */
export { Xep0361Link, NS_LINK, type Xep0361Options } from './link.ts';

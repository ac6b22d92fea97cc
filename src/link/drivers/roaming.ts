/**
 * Roaming (as WireGuard does, its paper §2.1 "Cryptokey Routing" endpoints):
 * a link end without a configured `peer` learns the partner's address from
 * the first datagram the endpoint takes (authentication, replay window and
 * session checks passed: handleFrame true) and follows it when a taken
 * datagram comes from another address (NAT rebinding, a new bearer). What the
 * endpoint drops never moves it, whatever its source. Sans-IO: addresses
 * and verdicts come in, the address to send to goes out; counts and logs
 * each change once.
 */
import type { Logger } from '../../obs/log.ts';
import type { Metrics } from '../../obs/metrics.ts';

export interface Address { host: string; port: number }

/** What a datagram did to the partner address. */
export type RoamResult = 'learned' | 'moved' | 'same' | 'refused' | 'dropped';

export const formatAddress = (a: Address): string => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);

export class RoamingPeer {
  private addr: Address | undefined;
  /** Changes of address after the first, and datagrams from elsewhere that did not move it. */
  readonly stats = { moves: 0, refused: 0 };

  constructor(private readonly o: { metrics: Metrics; log: Logger; labels: { link: string } }) {}

  /** Where to send: the partner's last address, or undefined until it has been heard. */
  get current(): Address | undefined {
    return this.addr;
  }

  /** A datagram from `from` was taken (true) or dropped by the endpoint. */
  heard(from: Address, taken: boolean): RoamResult {
    const same = this.addr !== undefined && this.addr.host === from.host && this.addr.port === from.port;
    if (!taken) {
      if (same) return 'dropped'; // the core counted it; the address stays
      this.stats.refused++;
      this.o.metrics.inc('link_peer_address_refused_total', this.o.labels);
      return 'refused';
    }
    if (same) return 'same';
    const old = this.addr;
    this.addr = { host: from.host, port: from.port };
    if (!old) {
      this.o.metrics.inc('link_peer_address_changes_total', { ...this.o.labels, kind: 'learned' });
      this.o.log.info({ ...this.o.labels, peer: formatAddress(from) }, 'partner heard: answering at its address');
      return 'learned';
    }
    this.stats.moves++;
    this.o.metrics.inc('link_peer_address_changes_total', { ...this.o.labels, kind: 'moved' });
    this.o.log.info({ ...this.o.labels, from: formatAddress(old), to: formatAddress(from) }, 'partner moved to a new address (NAT rebinding or a new bearer): following it');
    return 'moved';
  }
}

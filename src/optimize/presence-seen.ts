/**
 * Which full JIDs are available, as far as the presence seen crossing the
 * link (either direction) tells (RFC 6121 §4): the last presence from a full
 * JID without a type makes it available, `unavailable` or `error` makes it
 * unavailable; an `unavailable` from a bare JID (RFC 6121 §4.3.2, no
 * available resource) covers all its resources. Subscription types say
 * nothing about availability. Bounded LRU; not persisted (after a restart
 * nothing is known until presence crosses again).
 */
import type { XmlElement } from '../xml/element.ts';

export class PresenceSeen {
  private readonly state = new Map<string, boolean>();

  constructor(private readonly max = 20_000) {}

  note(presence: XmlElement): void {
    const from = presence.attr('from');
    if (!from) return;
    const type = presence.attr('type');
    if (type !== undefined && type !== 'unavailable' && type !== 'error') return;
    const available = type === undefined;
    if (!from.includes('/')) {
      if (!available) for (const jid of [...this.state.keys()]) if (jid.startsWith(`${from}/`)) this.state.set(jid, false);
      return;
    }
    this.state.delete(from);
    this.state.set(from, available);
    while (this.state.size > this.max) this.state.delete(this.state.keys().next().value!);
  }

  /** True only while the last presence seen from this full JID was available. */
  isAvailable(fullJid: string): boolean {
    return this.state.get(fullJid) === true;
  }
}

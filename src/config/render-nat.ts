/** `check`'s comment lines on a link's NAT keepalive and on roaming (an udp end without peer). */
import { natKeepaliveBytesPerHour } from './profile.ts';
import type { LinkConfig } from './site.ts';

export function natLines(l: LinkConfig, indent: string): string[] {
  const t = l.tuning;
  const nat = l.profileConfig.bearer.nat_timeout_s;
  const cost = `${natKeepaliveBytesPerHour(t)} B per hour, both ways, while idle`;
  const out: string[] = [];
  if (l.transport === 'udp' && !l.peer) {
    out.push(
      `${indent}#   roaming: no peer, so this end learns the partner's address from its first authentic frame and follows it when it moves;` +
        ` the partner must set peer to this end's public address (bind ${l.bind})${t.nat_keepalive_s !== undefined ? ` and keeps its NAT mapping open (${cost})` : ''}`,
    );
  } else if (l.peer && t.nat_keepalive_s !== undefined) {
    const every = Math.min(t.keepalive_s, t.nat_keepalive_s);
    out.push(`${indent}#   NAT keepalive: a ping every ${every} s when idle${nat !== undefined ? `, below the bearer's ${nat} s NAT timeout` : ''} (${cost}); in an outage the probes keep it`);
  }
  return out;
}

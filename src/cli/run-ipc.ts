/**
 * `satrelay run` started as a child with an IPC channel (the bench and the
 * soak, sim/relay-process.ts): says when the relay is ready, answers usage
 * requests with the process's own CPU time, peak RSS and link counters, and
 * stops the relay (SIGTERM path) when the parent goes away.
 */
import { STANZA_CLASSES } from '../config/index.ts';
import type { Relay } from '../relay/relay.ts';
import type { RelayUsage } from '../sim/relay-process.ts';

interface LinkWithStats {
  name: string;
  stats(): { headerBytes: number; retransmits: number; stanzaBytesIn: number; compressedBytesOut: number; outageBytes: number };
}

function usage(relay: Relay): RelayUsage {
  const cpu = process.cpuUsage();
  const links = (relay.links as unknown as Array<Partial<LinkWithStats> & { name: string }>).flatMap((l) => {
    if (typeof l.stats !== 'function') return [];
    const s = l.stats();
    const m = relay.links.find((x) => x.name === l.name)?.status().metered;
    const held = STANZA_CLASSES.reduce((n, c) => n + relay.metrics.get('metered_held_total', { link: l.name, class: c }), 0);
    const metered = m ? { metered: { ...m, heldTotal: held, refused: relay.metrics.get('metered_refused_total', { link: l.name, bearer: m.bearer }) } } : {};
    return [{ name: l.name, headerBytes: s.headerBytes, retransmits: s.retransmits, stanzaBytesIn: s.stanzaBytesIn, compressedBytesOut: s.compressedBytesOut, outageBytes: s.outageBytes, peerMoves: relay.metrics.get('link_peer_address_changes_total', { link: l.name, kind: 'moved' }), ...metered }];
  });
  return { cpu_us: cpu.user + cpu.system, max_rss_kb: process.resourceUsage().maxRSS, links };
}

/** No-op without an IPC channel; returns what to call once the relay has stopped. */
export function answerParent(relay: Relay): () => void {
  if (!process.send) return () => {};
  const onMessage = (m: { t?: string; id?: number }): void => {
    if (m?.t === 'usage') process.send!({ t: 'usage', id: m.id, usage: usage(relay) });
  };
  const onGone = (): void => void process.kill(process.pid, 'SIGTERM');
  process.on('message', onMessage);
  process.once('disconnect', onGone);
  process.send({ t: 'ready' });
  return () => {
    process.off('message', onMessage);
    process.off('disconnect', onGone);
    if (process.connected) process.disconnect();
  };
}

/**
 * optimize/ — what the relay does to traffic on a constrained link, each part
 * switchable and counted in Metrics (names optimize_*):
 * - DiscoCacheHook (disco-cache.ts): disco#info / XEP-0115 caps cache; answers
 *   repeated queries on the near side, verified caps forever-ish, plain
 *   entries for 300 s; persisted in dataDir/disco-cache.json.
 * - CapsStripHook (caps-strip.ts): replaces a caps <c/> the partner has acked
 *   by a content-hash marker; restores it inbound; dataDir/caps-strip.json.
 * - PresenceFoldHook (presence-fold.ts): strips available presence to
 *   show/status/priority/caps (+ MUC elements).
 * - OutboundQueue (queue.ts): the link's outbound queue: priority classes,
 *   presence coalescing, fan-out folding (fanout.ts foldCopies).
 * - FanoutExpandHook (fanout.ts): expands folded stanzas from the partner.
 * Takes: XmlElement stanzas (router hooks) and QueuedStanza items (queue).
 * Gives: edited / answered / expanded stanzas; the queue gives TakenItems.
 * Hooks follow the contract of xmpp/hooks.ts and see a link only by name.
 * Must not import: relay/, link/, s2s/, policy/, spool/, config/ (the relay
 * wires those).
 *
 * Hook order (buildOptimizeHooks): outbound disco-cache (answers before
 * anything crosses) -> presence-fold -> caps-strip (fold keeps <c/>, strip
 * shrinks it); inbound fanout-expand -> caps-strip (restore) -> disco-cache
 * (learns from restored presences and results). The receiving halves (expand,
 * restore, acks) are always installed: the partner may use them even when this
 * side does not.
 */
import { mkdirSync } from 'node:fs';
import { silentLogger, type Logger } from '../obs/log.ts';
import { Metrics } from '../obs/metrics.ts';
import type { StanzaHook } from '../xmpp/hooks.ts';
import { DiscoCacheHook } from './disco-cache.ts';
import { CapsStripHook } from './caps-strip.ts';
import { PresenceFoldHook } from './presence-fold.ts';
import { FanoutExpandHook } from './fanout.ts';

export { DiscoCacheHook, capsVerOf, DISCO_CACHE_FILE, type DiscoCacheOptions } from './disco-cache.ts';
export { CapsStripHook, capsMarkerHash, CAPS_MARKER_NS, CAPS_STRIP_FILE, type CapsStripOptions } from './caps-strip.ts';
export { PresenceFoldHook, foldPresence, MUC_NS, MUC_USER_NS, OCCUPANT_ID_NS, type PresenceFoldOptions } from './presence-fold.ts';
export { OutboundQueue, type QueuedStanza, type TakenItem, type OutboundQueueOptions } from './queue.ts';
export { foldCopies, expandFanout, hasFanout, FanoutExpandHook, FANOUT_NS, MAX_FANOUT } from './fanout.ts';
export { capsVerificationString, computeCapsVer, verifyCapsVer, CapsFormatError, CAPS_HASHES } from './caps-hash.ts';
export { JsonFileStore, type JsonFileStoreOptions } from './store.ts';

export interface OptimizeHooksOptions {
  presence: 'coalesce' | 'fold' | 'off';
  discoCache: boolean;
  fanout: boolean;
  dataDir: string;
  metrics?: Metrics;
  logger?: Logger;
  /** Strip caps elements the partner has acked (default: same as discoCache). */
  capsStrip?: boolean;
  /** Clock for caches (tests); default Date.now. */
  now?: () => number;
}

/**
 * Queue options for a link's OutboundQueue from the optimize settings:
 * 'fold' also coalesces (a folded presence is still state).
 */
export function queueOptionsFor(opts: { presence: 'coalesce' | 'fold' | 'off'; fanout: boolean }): { coalescePresence: boolean; fanout: boolean } {
  return { coalescePresence: opts.presence !== 'off', fanout: opts.fanout };
}

export function buildOptimizeHooks(opts: OptimizeHooksOptions): { hooks: StanzaHook[]; close(): Promise<void> } {
  const metrics = opts.metrics ?? new Metrics();
  const logger = opts.logger ?? silentLogger;
  mkdirSync(opts.dataDir, { recursive: true });
  const hooks: StanzaHook[] = [];
  const closers: (() => Promise<void>)[] = [];
  // Inbound first in the list: expansion must run before restore and learning.
  hooks.push(new FanoutExpandHook({ metrics, logger: logger.child({ part: 'fanout' }) }));
  const disco = opts.discoCache ? new DiscoCacheHook({ dataDir: opts.dataDir, metrics, logger: logger.child({ part: 'disco-cache' }), now: opts.now }) : undefined;
  // Outbound: the cache answers before anything is folded or crosses.
  if (disco) hooks.push(outboundOnly(disco));
  if (opts.presence === 'fold') hooks.push(new PresenceFoldHook({ metrics, logger: logger.child({ part: 'presence-fold' }) }));
  const strip = new CapsStripHook({ strip: opts.capsStrip ?? opts.discoCache, dataDir: opts.dataDir, metrics, logger: logger.child({ part: 'caps-strip' }), now: opts.now });
  hooks.push(strip);
  closers.push(() => strip.close());
  if (disco) {
    hooks.push(inboundOnly(disco));
    closers.push(() => disco.close());
  }
  return {
    hooks,
    async close() {
      for (const c of closers) await c();
    },
  };
}

/** The same hook seen only in one direction, so one object can sit at two places in the order. */
function outboundOnly(h: StanzaHook): StanzaHook {
  return { name: `${h.name}:out`, outbound: h.outbound!.bind(h) };
}
function inboundOnly(h: StanzaHook): StanzaHook {
  return { name: `${h.name}:in`, inbound: h.inbound!.bind(h) };
}

/** A spooled link's outbound scheduler: optimize's queue, behind link/metered/'s gate when the link's bearer is metered. */
import { join } from 'node:path';
import { UDP_IP_BYTES, type LinkConfig, type SiteConfig } from '../config/index.ts';
import { Metering } from '../link/metered/index.ts';
import type { OutboundScheduler } from '../link/port.ts';
import type { Logger } from '../obs/log.ts';
import type { Metrics } from '../obs/metrics.ts';
import { OutboundQueue, queueOptionsFor } from '../optimize/index.ts';
import { urgentMatcher } from '../policy/index.ts';

/** Where a link keeps its metered bearer's spend of the day. */
export function meteredStateFile(cfg: SiteConfig, link: LinkConfig): string {
  return join(cfg.data_dir, 'link-state', `${link.name}.metered.json`);
}

export function linkScheduler(cfg: SiteConfig, link: LinkConfig, deps: { logger: Logger; metrics: Metrics }): { scheduler: OutboundScheduler; metering?: Metering } {
  // Priority, presence coalescing and fan-out folding while stanzas wait for the core.
  const queue = () => new OutboundQueue({ ...queueOptionsFor(cfg.optimize), metrics: deps.metrics, link: link.name });
  if (!link.metered) return { scheduler: queue() };
  const metering = new Metering({
    link: link.name,
    // Today a link has one bearer, named by its profile.
    bearer: link.profileConfig.name,
    settings: link.metered,
    isUrgent: urgentMatcher(cfg.policy.urgent),
    frameOverheadBytes: link.transport === 'udp' ? UDP_IP_BYTES : 0,
    stateFile: meteredStateFile(cfg, link),
    metrics: deps.metrics,
    logger: deps.logger,
  });
  return { scheduler: metering.scheduler(queue), metering };
}

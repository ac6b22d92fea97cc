/** A spooled link's outbound scheduler: optimize's queue, behind link/metered/'s gate when the link's bearer is metered. */
import { join } from 'node:path';
import { UDP_IP_BYTES, bearerName, linkBearers, type BearerConfig, type LinkConfig, type SiteConfig } from '../config/index.ts';
import { Metering } from '../link/metered/index.ts';
import type { BearerAccounting, BearerDef } from '../link/bearers/index.ts';
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
  const bearers = linkBearers(link);
  const metered = bearers.find((b) => b.metered);
  if (!metered) return { scheduler: queue() };
  const metering = new Metering({
    link: link.name,
    // One bearer: named by its profile; several: as the bearer selection names them, starting on the primary.
    bearer: bearers.length === 1 ? link.profileConfig.name : bearerName(0, bearers[0]),
    settings: bearers[0].metered,
    isUrgent: urgentMatcher(cfg.policy.urgent),
    frameOverheadBytes: metered.transport === 'udp' ? UDP_IP_BYTES : 0,
    stateFile: meteredStateFile(cfg, link),
    metrics: deps.metrics,
    logger: deps.logger,
  });
  return { scheduler: metering.scheduler(queue), metering };
}

/**
 * A link over several bearers: the bearer selection tells metering each switch
 * (what may cross now follows the bearer in use), and status shows each
 * metered bearer's cost today.
 */
export function bearerMetering(bearers: readonly BearerConfig[], metering: Metering | undefined): { onSwitch?: (to: BearerDef, index: number) => void; accounting?: BearerAccounting } {
  if (!metering) return {};
  return {
    onSwitch: (to, index) => metering.setBearer(to.name, bearers[index].metered),
    accounting: { costToday: (name) => metering.costToday(name) },
  };
}

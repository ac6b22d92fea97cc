/**
 * The DriverFactory of a link over several bearers: the constrained link
 * creates its driver through it like any other (link/constrained/link.ts).
 */
import type { DriverFactory } from '../drivers/index.ts';
import { MultiBearerDriver, type BearerEndpoint, type MultiOptions } from './multi-driver.ts';

export function multiBearerDriver(o: MultiOptions): DriverFactory {
  const names = o.bearers.map((b) => b.name).join(', ');
  return {
    kind: `bearers(${o.bearers.map((b) => b.transport).join(',')})`,
    where: (up) => `${o.bearers.length} bearers ${up ? 'up' : 'down'} (${names})`,
    create(endpoint, base, hooks) {
      const ep = endpoint as Partial<BearerEndpoint>;
      if (typeof ep.useBearer !== 'function' || typeof ep.bearerProbe !== 'function') throw new Error('a link over several bearers needs a core with useBearer and bearerProbe (LinkEndpoint)');
      return new MultiBearerDriver(endpoint as BearerEndpoint, o, base, hooks);
    },
  };
}

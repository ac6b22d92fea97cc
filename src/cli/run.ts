import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadSiteConfig, renderEffectiveConfig } from '../config/index.ts';
import { createLogger } from '../obs/log.ts';
import { buildRelay } from '../relay/from-config.ts';
import { configArg } from './main.ts';

/** `satrelay run -c FILE`: runs one relay until SIGINT/SIGTERM. */
export async function runCommand(args: string[]): Promise<number> {
  const file = configArg(args);
  if (!file) {
    process.stderr.write('usage: satrelay run -c site.yaml\n');
    return 2;
  }
  let cfg;
  try {
    cfg = loadSiteConfig(file, { onWarning: (m) => process.stderr.write(`warning: ${m}\n`) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ level: cfg.log.level, name: cfg.site });
  let relay;
  try {
    relay = buildRelay(cfg, { logger });
    // Support reads what a site runs from data_dir.
    writeFileSync(join(cfg.data_dir, 'effective-config.yaml'), renderEffectiveConfig(cfg));
    await relay.start();
  } catch (err) {
    // A relay that cannot serve must not look healthy: stop what started, exit non-zero.
    const e = err as Error & { code?: string };
    logger.fatal({ err: e.message, code: e.code }, 'relay could not start');
    process.stderr.write(`satrelay: cannot start site ${cfg.site} (${file}): ${e.message}\n`);
    await relay?.stop().catch(() => undefined);
    logger.flush?.();
    return 1;
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      logger.info({ signal: sig }, 'stopping');
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await relay.stop();
  logger.flush?.();
  return 0;
}

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadSiteConfig, renderEffectiveConfig } from '../config/index.ts';
import { createLogger } from '../obs/log.ts';
import { buildRelay } from '../relay/from-config.ts';
import { answerParent } from './run-ipc.ts';
import { CONFIG_OPTION, configFile, runCommand as runParsed, type CommandSpec } from './args.ts';

export const RUN: CommandSpec = {
  name: 'run',
  summary: 'Runs one relay until SIGINT or SIGTERM. Logs go to stdout (JSON lines; coloured text on a terminal).',
  usage: '(-c FILE | FILE)',
  options: { ...CONFIG_OPTION },
  positionals: { max: 1 },
  notes: 'The effective configuration is also written to data_dir/effective-config.yaml.',
};

/** `satrelay run -c FILE`: runs one relay until SIGINT/SIGTERM. */
export async function runCommand(args: string[]): Promise<number> {
  return runParsed(RUN, args, (values, positionals) => runRelay(configFile(values, positionals)));
}

async function runRelay(file: string): Promise<number> {
  let cfg;
  try {
    cfg = loadSiteConfig(file, { onWarning: (m) => process.stderr.write(`${/^note: /.test(m) ? '' : 'warning: '}${m}\n`) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const logger = createLogger({ level: cfg.log.level }).child({ site: cfg.site });
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
  const signal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const parentDone = answerParent(relay);
  await relay.stop(await signal);
  parentDone();
  logger.flush?.();
  return 0;
}

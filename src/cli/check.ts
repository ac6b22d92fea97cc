import { ConfigError, loadSiteConfig, renderEffectiveConfig } from '../config/index.ts';
import { configArg } from './main.ts';

/** `satrelay check -c FILE`: validates, prints the effective config (exit 0) or every error (exit 1). */
export async function checkCommand(args: string[]): Promise<number> {
  const file = configArg(args);
  if (!file) {
    process.stderr.write('usage: satrelay check -c site.yaml\n');
    return 2;
  }
  try {
    const cfg = loadSiteConfig(file, { onWarning: (m) => process.stderr.write(`warning: ${m}\n`) });
    process.stdout.write(renderEffectiveConfig(cfg));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

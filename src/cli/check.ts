import { ConfigError, loadSiteConfig, renderEffectiveConfig } from '../config/index.ts';
import { CONFIG_OPTION, configFile, runCommand, type CommandSpec } from './args.ts';

export const CHECK: CommandSpec = {
  name: 'check',
  summary: 'Validates a site file and its link profiles and key files; prints the effective configuration\nwith every default filled in (exit 0), or every mistake as FILE:LINE:COL: key: message (exit 1).',
  usage: '(-c FILE | FILE)',
  options: { ...CONFIG_OPTION },
  positionals: { max: 1 },
};

/** `satrelay check -c FILE`: validates, prints the effective config (exit 0) or every error (exit 1). */
export async function checkCommand(args: string[]): Promise<number> {
  return runCommand(CHECK, args, (values, positionals) => {
    const file = configFile(values, positionals);
    try {
      const cfg = loadSiteConfig(file, { onWarning: (m) => process.stderr.write(`${/^note: /.test(m) ? '' : 'warning: '}${m}\n`) });
      process.stdout.write(renderEffectiveConfig(cfg));
      return 0;
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        return 1;
      }
      throw err;
    }
  });
}

/**
 * satrelay command line: run, check, keygen, status, emulate, bench, demo.
 * Each subcommand lives in its own module, loaded on demand, and parses its
 * arguments with cli/args.ts (`satrelay CMD --help` lists its options).
 */
import { packageVersion as version } from '../obs/version.ts';

type Command = (args: string[]) => Promise<number>;

export const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.ts')).runCommand,
  check: async () => (await import('./check.ts')).checkCommand,
  keygen: async () => (await import('./keygen.ts')).keygenCommand,
  status: async () => (await import('./status.ts')).statusCommand,
  emulate: async () => (await import('./emulate.ts')).emulateCommand,
  bench: async () => (await import('./bench.ts')).benchCommand,
  demo: async () => (await import('./demo.ts')).demoCommand,
  spool: async () => (await import('./spool.ts')).spoolCommand,
};

/** One line per command for `satrelay --help` (a command missing here is listed by name). */
const SUMMARIES: Record<string, string> = {
  run: 'run -c site.yaml            run a relay',
  check: 'check -c site.yaml          validate a site file; print the effective config',
  keygen: 'keygen [-o FILE]            make a pre-shared link key (mode 600 with -o)',
  status: 'status -c site.yaml         one-screen summary of a running relay',
  spool: 'spool check -c site.yaml    check the link spools for damage',
  emulate: 'emulate --profile NAME ...  run the link emulator (udp, pty or tcp mode)',
  bench: 'bench --profile P --workload W [--out DIR]   relay pair against plain S2S',
  demo: 'demo [--profile NAME]       a relay pair over the emulator, live figures',
};

function usage(): string {
  const lines = Object.keys(commands).map((c) => `  satrelay ${SUMMARIES[c] ?? c}`);
  return `satrelay ${version()}: XMPP S2S relay for constrained links\n\nusage:\n${lines.join('\n')}\n  satrelay --version\n\nsatrelay COMMAND --help lists the options of a command.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`satrelay ${version()}\n`);
    return 0;
  }
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    (name ? process.stdout : process.stderr).write(usage());
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`satrelay: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return (await load())(rest);
}

/** Reads `-c FILE` / `--config FILE` from args (commands that do not use cli/args.ts). */
export function configArg(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-c' || args[i] === '--config') return args[i + 1];
    if (args[i].startsWith('--config=')) return args[i].slice(9);
  }
  return undefined;
}

const isMain = process.argv[1] && /(?:main\.[jt]s|satrelay(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== 0) process.exitCode = code;
    },
    (err: Error) => {
      process.stderr.write(`satrelay: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}

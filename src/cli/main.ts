/**
 * satrelay command line: run, check, keygen, status, emulate, bench, demo.
 * Each subcommand lives in its own module, loaded on demand.
 */
const USAGE = `satrelay — XMPP S2S relay for constrained links

usage:
  satrelay run -c site.yaml            run a relay
  satrelay check -c site.yaml          validate a site file; print the effective config
  satrelay keygen                      print a new pre-shared link key (key_file contents)
  satrelay status -c site.yaml         one-screen summary of a running relay
  satrelay emulate --profile NAME ...  run the link emulator (udp, pty or tcp mode)
  satrelay bench --profile P --workload W [--json]
  satrelay demo [--profile NAME]       a relay pair over the emulator, live figures
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.ts')).runCommand,
  check: async () => (await import('./check.ts')).checkCommand,
  keygen: async () => (await import('./keygen.ts')).keygenCommand,
  status: async () => (await import('./status.ts')).statusCommand,
  emulate: async () => (await import('../emulator/cli.ts')).runEmulateCommand,
  bench: async () => (await import('../../bench/cli.ts')).benchCommand,
  demo: async () => (await import('./demo.ts')).demoCommand,
  spool: async () => (await import('./spool.ts')).spoolCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`satrelay: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return (await load())(rest);
}

/** Reads `-c FILE` / `--config FILE` from args. */
export function configArg(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-c' || args[i] === '--config') return args[i + 1];
    if (args[i].startsWith('--config=')) return args[i].slice(9);
  }
  return undefined;
}

const isMain = process.argv[1] && /(?:main\.ts|satrelay(?:\.js)?)$/.test(process.argv[1]);
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

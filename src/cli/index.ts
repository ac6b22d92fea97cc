/**
 * cli/ — the `satrelay` command line (bin/satrelay.js runs main.ts through
 * tsx): run, check, keygen, status, emulate, bench, demo. Each command is a
 * module loaded on demand; errors go to stderr with a non-zero exit.
 * Takes: argv. Gives: an exit code; output on stdout, logs on stderr.
 * The top row: it may import every src/ folder; none imports it. Must not
 * import: bench/, test/ (the Prosody baseline of bench/cli.ts stays there).
 */
export { main, configArg } from './main.ts';

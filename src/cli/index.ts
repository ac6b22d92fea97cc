/**
 * cli/ — the `satrelay` command line (bin/satrelay.js runs main.ts through
 * tsx): run, check, keygen, status, emulate, bench, demo. Each command is a
 * module loaded on demand; errors go to stderr with a non-zero exit.
 */
export { main, configArg } from './main.ts';

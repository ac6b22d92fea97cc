/**
 * `npx tsx bench/cli.ts ...`: `satrelay bench` (src/cli/bench.ts) with one
 * more baseline, `--baseline prosody` (bench/prosody.ts: two real Prosody
 * servers). It lives here, not in the shipped command, because it drives
 * Prosody with the test suite's helpers.
 */
import { benchCommand } from '../src/cli/bench.ts';
import { runIfMain } from './entry.ts';
import { PROSODY_BASELINE } from './prosody.ts';

runIfMain(/bench\/cli\.ts$/, (argv) => benchCommand(argv, [PROSODY_BASELINE]));

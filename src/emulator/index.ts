/**
 * emulator/: the bundled link emulator (a user-space netem + fault injector).
 *
 * What it does: reproduces a constrained bearer between side A and side B:
 * rate (serialisation time), delay, jitter, loss (Bernoulli, Gilbert-Elliott
 * bursts), bit errors, MTU, duplication, reordering, scheduled outages,
 * half-duplex turnaround, a NAT that rebinds one side's source port (nat.ts);
 * seeded and reproducible.
 *
 * Takes: BearerParams (a profile's `bearer:` half) and a seed. Gives:
 *  - engine.ts  LinkEmulator, sans-IO: send(now, dir, data, kind) / poll(now) /
 *               nextTimeout(); used in simulated time by tests and benchmarks.
 *  - rng.ts     Rng (xoshiro128**), the seeded PRNG others may reuse.
 *  - drivers.ts startUdpEmulator / startTcpEmulator / startPtyEmulator: the same
 *               engine on the wall clock with one timer (pty mode needs socat).
 *  - cli.ts     emulateSettings: what `satrelay emulate` runs (cli/emulate.ts parses it).
 *  - profile.ts loadBearerParams(name|path): reads `bearer:` from profiles/*.yaml.
 *
 * Must not import: link/, s2s/, relay/, optimize/, policy/, sim/, cli/ (it
 * serves cli/ and sim/; the relay never uses it). Only the bottom rows (obs/).
 */
export { LinkEmulator, validateParams, emptyDirStats, DIRECTIONS } from './engine.ts';
export type { BearerParams, Direction, DirStats, Delivery, LossModel, Outage, SendKind } from './engine.ts';
export { Rng } from './rng.ts';
export type { NatParams } from './nat.ts';
export { EmulatorError, type EmulatorErrorCode } from './errors.ts';
export { loadBearerParams, resolveProfilePath } from './profile.ts';
export * from './drivers.ts';

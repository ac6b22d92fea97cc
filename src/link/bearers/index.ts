/**
 * link/bearers/ — one link over several bearers (links[].bearers): the
 * bearer selector (select.ts, sans-IO, on the owner's Clock), the driver
 * that runs one transport driver per bearer under one core
 * (multi-driver.ts), its DriverFactory (factory.ts) and what status shows
 * of each bearer (status.ts, with the accounting hook of metered bearers).
 * Takes: one DriverFactory and LinkTuning per bearer, in order of
 *   preference; failback hold time.
 * Gives: a DriverFactory the constrained link uses like any other.
 * Must not import: constrained/, spool/, s2s/, optimize/ (the owner wires those).
 */
export { BearerSelector, type BearerSpec, type BearerChange, type BearerTransition } from './select.ts';
export { MultiBearerDriver, type BearerDef, type BearerEndpoint, type MultiOptions } from './multi-driver.ts';
export { multiBearerDriver } from './factory.ts';
export type { BearerStatus, BearerAccounting } from './status.ts';

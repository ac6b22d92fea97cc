/** The soak's relay processes: the launcher the bench uses too (src/sim/relay-process.ts). */
export { RelayProcess, procSample, type Incarnation, type Sample } from '../../src/sim/relay-process.ts';

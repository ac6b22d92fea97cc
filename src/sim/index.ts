/**
 * sim/ — simulated sites for the demo, `satrelay bench`, the benchmarks in
 * bench/, the soak and the interop tests: two XMPP servers (built-in S2S
 * peers) with a relay pair between them over the bundled emulator
 * (world.ts), or federating directly over the same emulated bearer
 * (baseline.ts); seeded workloads of realistic stanzas (workloads.ts); a run
 * that drives a world through one and takes its figures (measure.ts,
 * bench.ts, outage.ts); the per-profile chart (chart.ts).
 * Takes: a link profile, a workload name, a seed. Gives: Worlds to drive,
 * BenchResult figures (relay pair and baseline), SVG.
 * Everything runs in real time on 127.0.0.1; only the bearer is emulated.
 * Must not import: cli/, bench/, test/ (they import sim/). May import relay/,
 * emulator/ and what lies below them; relay/ must not import sim/.
 */
export { BenchError, DOMAINS, startPeer, bareWorld, worldWithCleanup, siteYaml, startRelayWorld, type World } from './world.ts';
export { startBaselineWorld, streamParams } from './baseline.ts';
export { measure, warmupLost, type Figures, type Latency, type Warmup } from './measure.ts';
export { runBench, warmupFor, DEFAULT_STANZAS, type BenchOptions, type BenchResult, type BaselineChoice, type ExtraBaseline } from './bench.ts';
export { WORKLOADS, makeWorkload, replyFor, WorkloadError, type WorkloadName, type BenchStanza, type Side } from './workloads.ts';
export { OPTIMIZERS, parseOptimizeChoice, optimizeYaml, type Optimizer } from './optimize-choice.ts';
export { parseOutageArg, OutageRun, type OutageSpec, type OutageFigures } from './outage.ts';
export { parseNatRebindArg, withNat, natFigures, type NatFigures } from './nat.ts';
export { chartSvg, niceTicks } from './chart.ts';
export { freeTcpPort, freeUdpPort } from './ports.ts';

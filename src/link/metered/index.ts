/**
 * link/metered/ — metered bearers (billed per MB): which stanza classes a
 * link may put on the bearer it uses now, the daily budget (per UTC day, kept
 * across restarts) and what crosses once it is spent (stanzas the site's
 * policy.urgent matches; the rest are refused with resource-constraint).
 *  - meter.ts: BearerMeter, sans-IO: setBearer / sent in (with `now`),
 *    decide(class, urgent) -> send | hold | refuse out;
 *  - scheduler.ts: MeteredScheduler, the link's OutboundScheduler: one inner
 *    scheduler (optimize's queue) per class behind the meter's decision;
 *  - metering.ts: Metering, the meter wired to a link: its counters, a
 *    spend file (spend-file.ts), metrics and log lines;
 *  - classes.ts: a stanza's class (messages, iq, presence, disco).
 * Takes: stanzas (XmlElement), byte counters, wall-clock ms. Gives: the
 * scheduler, decisions, MeteredStatus.
 * Must not import: relay/, optimize/, policy/ (the relay passes the inner
 * scheduler and the urgency rule), link/core/, link/drivers/.
 */
export { BearerMeter, utcDay, type MeterDecision, type MeteredSettings, type MeterSpend, type MeterSnapshot } from './meter.ts';
export { MeteredScheduler, type MeteredSchedulerOptions } from './scheduler.ts';
export { Metering, type MeteringOptions, type ByteCounters } from './metering.ts';
export { stanzaClass } from './classes.ts';
export { readSpend, writeSpend } from './spend-file.ts';

/**
 * Metrics: one prom-client registry per relay (tests run several relays in
 * one process). Counters are created on first use; names get the satrelay_
 * prefix; HELP text and label names come from the catalog (catalog.ts).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { metricInfo } from './catalog.ts';

type Labels = Record<string, string | number>;

/** HELP and label names for a new metric: the catalog's, plus any label this first call uses. */
function describe(name: string, labels: Labels): { name: string; help: string; labelNames: string[] } {
  const info = metricInfo(name);
  const labelNames = [...new Set([...(info?.labels ?? []), ...Object.keys(labels)])];
  return { name: `satrelay_${name}`, help: info?.help ?? name.replace(/_/g, ' '), labelNames };
}

export class Metrics {
  readonly registry = new Registry();
  private counters = new Map<string, Counter<string>>();
  private gauges = new Map<string, Gauge<string>>();
  private histograms = new Map<string, Histogram<string>>();
  private readonly collectors = new Set<() => void>();
  /** tally()'s counts not yet handed to their counters. */
  private readonly pending = new Map<string, { name: string; labels: Labels; n: number }>();

  /** `processMetrics`: also prom-client's default process_* and nodejs_* metrics (memory, open files, CPU, event loop). */
  constructor(defaultLabels: Labels = {}, opts: { processMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels(defaultLabels);
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** `fn` brings counters kept elsewhere (a sans-IO core's stats) up to date before every read; returns its removal. */
  onCollect(fn: () => void): () => void {
    this.collectors.add(fn);
    return () => this.collectors.delete(fn);
  }

  private collect(): void {
    for (const p of this.pending.values()) if (p.n) this.inc(p.name, p.labels, p.n);
    this.pending.clear();
    for (const fn of this.collectors) fn();
  }

  /** Adds n to counter `name` (created on first use with these label names). */
  inc(name: string, labels: Labels = {}, n = 1): void {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ ...describe(name, labels), registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.inc(labels, n);
  }

  /** inc() for per-stanza paths: added up here, handed to the counter before the next read (scrape, get, value). */
  tally(name: string, labels: Labels = {}, n = 1): void {
    let key = name;
    for (const k in labels) key += '\0' + labels[k];
    const p = this.pending.get(key);
    if (p) p.n += n;
    else this.pending.set(key, { name, labels: { ...labels }, n });
  }

  set(name: string, value: number, labels: Labels = {}): void {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ ...describe(name, labels), registers: [this.registry] });
      this.gauges.set(name, g);
    }
    g.set(labels, value);
  }

  observe(name: string, value: number, labels: Labels = {}, buckets?: number[]): void {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram({ ...describe(name, labels), buckets, registers: [this.registry] });
      this.histograms.set(name, h);
    }
    h.observe(labels, value);
  }

  /** Current value of a counter or gauge (sum over label sets matching `labels`). */
  async value(name: string, labels: Labels = {}): Promise<number> {
    this.collect();
    const m = this.counters.get(name) ?? this.gauges.get(name);
    if (!m) return 0;
    const got = await m.get();
    return got.values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === String(want)))
      .reduce((a, v) => a + v.value, 0);
  }

  /** Synchronous read of a counter or gauge (sum over matching label sets). */
  get(name: string, labels: Labels = {}): number {
    this.collect();
    const m = (this.counters.get(name) ?? this.gauges.get(name)) as unknown as { hashMap?: Record<string, { value: number; labels: Labels }> } | undefined;
    if (!m?.hashMap) return 0;
    return Object.values(m.hashMap)
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === String(want)))
      .reduce((a, v) => a + v.value, 0);
  }

  text(): Promise<string> {
    this.collect();
    return this.registry.metrics();
  }
}

/**
 * Metrics: one prom-client registry per relay (tests run several relays in
 * one process). Counters are created on first use; names get the satrelay_ prefix.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

type Labels = Record<string, string | number>;

export class Metrics {
  readonly registry = new Registry();
  private counters = new Map<string, Counter<string>>();
  private gauges = new Map<string, Gauge<string>>();
  private histograms = new Map<string, Histogram<string>>();

  constructor(defaultLabels: Labels = {}) {
    this.registry.setDefaultLabels(defaultLabels);
  }

  /** Adds n to counter `name` (created on first use with these label names). */
  inc(name: string, labels: Labels = {}, n = 1): void {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name: `satrelay_${name}`, help: name.replace(/_/g, ' '), labelNames: Object.keys(labels), registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.inc(labels, n);
  }

  set(name: string, value: number, labels: Labels = {}): void {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ name: `satrelay_${name}`, help: name.replace(/_/g, ' '), labelNames: Object.keys(labels), registers: [this.registry] });
      this.gauges.set(name, g);
    }
    g.set(labels, value);
  }

  observe(name: string, value: number, labels: Labels = {}, buckets?: number[]): void {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram({ name: `satrelay_${name}`, help: name.replace(/_/g, ' '), labelNames: Object.keys(labels), buckets, registers: [this.registry] });
      this.histograms.set(name, h);
    }
    h.observe(labels, value);
  }

  /** Current value of a counter or gauge (sum over label sets matching `labels`). */
  async value(name: string, labels: Labels = {}): Promise<number> {
    const m = this.counters.get(name) ?? this.gauges.get(name);
    if (!m) return 0;
    const got = await m.get();
    return got.values
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === String(want)))
      .reduce((a, v) => a + v.value, 0);
  }

  /** Synchronous read of a counter or gauge (sum over matching label sets). */
  get(name: string, labels: Labels = {}): number {
    const m = (this.counters.get(name) ?? this.gauges.get(name)) as unknown as { hashMap?: Record<string, { value: number; labels: Labels }> } | undefined;
    if (!m?.hashMap) return 0;
    return Object.values(m.hashMap)
      .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === String(want)))
      .reduce((a, v) => a + v.value, 0);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

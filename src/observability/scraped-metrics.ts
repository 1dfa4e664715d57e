import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics read at scrape time. The hot path keeps its plain
 * integer counters (RouterCounters and the like); each metric here is a
 * prom-client object whose `collect()` copies the current value in when
 * /metrics is scraped, so a stanza costs nothing more than it did. Names
 * follow the Prometheus conventions
 * (https://prometheus.io/docs/practices/naming/): one prefix, `_total` on
 * counters, base units (seconds).
 */

export const METRIC_PREFIX = 'xmpp_cluster_';

/** One labelled value: label values must be bounded (a condition, a member's name), never a stanza id or a secret. */
export type Sample = readonly [labels: Readonly<Record<string, string>>, value: number];

export interface ScrapedMetric {
  /** Without the prefix: `stanzas_routed_total`. */
  readonly name: string;
  readonly help: string;
  readonly labelNames?: readonly string[];
  /** The value now; with labels, one sample per label set (label sets left out are not exported). */
  read(): number | readonly Sample[];
}

/** A registry with prom-client's default `process_*` and `nodejs_*` metrics; one per node, never the global one. */
export function newMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** A counter whose value is the source's monotonic count, copied in at each scrape. */
export function scrapedCounter(registry: Registry, metric: ScrapedMetric): Counter {
  const read = metric.read;
  return new Counter({
    name: METRIC_PREFIX + metric.name,
    help: metric.help,
    labelNames: [...(metric.labelNames ?? [])],
    registers: [registry],
    collect(this: Counter) {
      const value = read();
      this.reset();
      if (typeof value === 'number') this.inc(value);
      else for (const [labels, v] of value) this.inc({ ...labels }, v);
    },
  });
}

/** A gauge set from the source at each scrape. */
export function scrapedGauge(registry: Registry, metric: ScrapedMetric): Gauge {
  const read = metric.read;
  return new Gauge({
    name: METRIC_PREFIX + metric.name,
    help: metric.help,
    labelNames: [...(metric.labelNames ?? [])],
    registers: [registry],
    collect(this: Gauge) {
      const value = read();
      this.reset();
      if (typeof value === 'number') this.set(value);
      else for (const [labels, v] of value) this.set({ ...labels }, v);
    },
  });
}

/** A histogram observed by the caller (rare events only: a proposal, not a stanza). */
export function observedHistogram(registry: Registry, metric: { name: string; help: string; labelNames?: readonly string[]; buckets: number[] }): Histogram {
  return new Histogram({
    name: METRIC_PREFIX + metric.name,
    help: metric.help,
    labelNames: [...(metric.labelNames ?? [])],
    buckets: metric.buckets,
    registers: [registry],
  });
}

/** A counter incremented by the caller (rare events only: a leader change). */
export function eventCounter(registry: Registry, metric: { name: string; help: string; labelNames?: readonly string[] }): Counter {
  return new Counter({ name: METRIC_PREFIX + metric.name, help: metric.help, labelNames: [...(metric.labelNames ?? [])], registers: [registry] });
}

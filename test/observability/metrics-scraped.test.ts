import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { LoopStallDetector } from '../../src/observability/loop-stall.js';
import { eventCounter, newMetricsRegistry, scrapedCounter, scrapedGauge } from '../../src/observability/scraped-metrics.js';
import { untilAnswer } from '../helpers/http-get.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';

/**
 * The registry side of the metrics: values copied from plain counters at
 * scrape time (nothing is incremented per stanza), label sets that follow
 * the source, and the loop-stall detector behind /healthz.
 */

describe('scraped metrics', () => {
  it('export what the source counts at the moment of the scrape, under the xmpp_cluster_ prefix', async () => {
    const registry = newMetricsRegistry();
    const source = { routed: 0, byCondition: new Map<string, number>() };
    scrapedCounter(registry, { name: 'test_routed_total', help: 'routed, for the test', read: () => source.routed });
    scrapedCounter(registry, {
      name: 'test_bounced_total',
      help: 'bounced, for the test',
      labelNames: ['condition'],
      read: () => [...source.byCondition].map(([condition, n]) => [{ condition }, n] as const),
    });
    const first = parsePrometheusText(await registry.metrics());
    expect(valueOf(first, 'xmpp_cluster_test_routed_total')).toBe(0);
    expect(first.get('xmpp_cluster_test_bounced_total')!.samples).toEqual([]);

    source.routed = 41;
    source.routed++;
    source.byCondition.set('service-unavailable', 3);
    source.byCondition.set('remote-server-not-found', 1);
    const second = parsePrometheusText(await registry.metrics());
    expect(valueOf(second, 'xmpp_cluster_test_routed_total')).toBe(42);
    expect(valueOf(second, 'xmpp_cluster_test_bounced_total', { condition: 'service-unavailable' })).toBe(3);
    expect(valueOf(second, 'xmpp_cluster_test_bounced_total', { condition: 'remote-server-not-found' })).toBe(1);
    // Scraping again changes nothing: the value is the source's, not a sum of scrapes.
    expect(valueOf(parsePrometheusText(await registry.metrics()), 'xmpp_cluster_test_routed_total')).toBe(42);
  });

  it('drop a gauge series whose label set the source no longer has, and escape label values', async () => {
    const registry = newMetricsRegistry();
    let peers: Array<[string, number]> = [
      ['cb1', 1],
      ['odd "name"\\', 0],
    ];
    scrapedGauge(registry, { name: 'test_peer_up', help: 'peer up, for the test', labelNames: ['peer'], read: () => peers.map(([peer, v]) => [{ peer }, v] as const) });
    const text = await registry.metrics();
    expect(text).toContain('xmpp_cluster_test_peer_up{peer="odd \\"name\\"\\\\"} 0');
    expect(valueOf(parsePrometheusText(text), 'xmpp_cluster_test_peer_up', { peer: 'odd "name"\\' })).toBe(0);
    peers = [['cb1', 0]];
    const after = parsePrometheusText(await registry.metrics());
    expect(after.get('xmpp_cluster_test_peer_up')!.samples).toEqual([{ name: 'xmpp_cluster_test_peer_up', labels: { peer: 'cb1' }, value: 0 }]);
  });

  it('keep an event counter across scrapes', async () => {
    const registry = newMetricsRegistry();
    const changes = eventCounter(registry, { name: 'test_changes_total', help: 'changes, for the test' });
    changes.inc();
    changes.inc();
    expect(valueOf(parsePrometheusText(await registry.metrics()), 'xmpp_cluster_test_changes_total')).toBe(2);
    expect(valueOf(parsePrometheusText(await registry.metrics()), 'xmpp_cluster_test_changes_total')).toBe(2);
  });
});

describe('the loop-stall detector', () => {
  it('reports a block of the loop over its threshold, for its window, then healthy again', async () => {
    const loop = new LoopStallDetector({ thresholdMs: 200, windowMs: 1000, intervalMs: 20 });
    try {
      expect(loop.health()).toMatchObject({ stalled: false, thresholdSeconds: 0.2 });
      const until = performance.now() + 400;
      while (performance.now() < until); // bounded block, twice the threshold
      // Asked at once, before the late timer ran: the time since its last tick counts.
      const during = loop.health();
      expect(during.stalled).toBe(true);
      expect(during.worstDelaySeconds).toBeGreaterThan(0.2);
      // After the timer ran, the window remembers it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(loop.health().stalled).toBe(true);
      await untilAnswer(async () => loop.health(), (h) => !h.stalled, 5000, 'healthy again after the window');
    } finally {
      loop.stop();
    }
  });
});

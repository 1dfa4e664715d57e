import type { XmppNode } from '../node/xmpp-node.js';
import type { Logger } from '../observability/logger.js';
import { LoopStallDetector, type LoopStallOptions } from '../observability/loop-stall.js';
import { startHttpEndpoint, type HttpEndpoint, type HttpRoutes } from './http-endpoint.js';
import { liveness, readiness } from './node-health.js';
import type { NodeMetrics } from './node-metrics.js';

/**
 * The operations listener of one node: its metrics, its loop-stall
 * detector, and /readyz from the node's state. Returns the endpoint, whose
 * close() stops the detector too.
 */
export async function startOperationsEndpoint(options: {
  node: XmppNode;
  metrics: NodeMetrics;
  at: { host: string; port: number };
  log: Logger;
  loop?: LoopStallOptions;
  /** The status page's routes, on the same listener. */
  routes?: HttpRoutes;
}): Promise<HttpEndpoint> {
  const loop = new LoopStallDetector(options.loop);
  const { metrics, node } = options;
  try {
    const endpoint = await startHttpEndpoint({
      ...options.at,
      log: options.log,
      routes: options.routes,
      handlers: {
        metrics: async () => ({ body: await metrics.render(), contentType: metrics.registry.contentType }),
        healthz: () => liveness(loop),
        readyz: () => readiness(node),
      },
    });
    return {
      ...endpoint,
      close: async () => {
        loop.stop();
        await endpoint.close();
      },
    };
  } catch (err) {
    loop.stop();
    throw err;
  }
}

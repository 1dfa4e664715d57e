import { LocalRouter } from '../../src/router/local-router.js';
import type { Route } from '../../src/router/router.js';
import { FederationService, type FederationServiceOptions } from '../../src/s2s/federation-service.js';
import type { FederationConfig } from '../../src/s2s/server-streams.js';
import { MemoryBridge, MemoryEnvironment, MemoryS2s, stanza } from '../helpers/memory-s2s.js';

/**
 * The federation service between the real LocalRouter and the in-memory
 * streams of memory-s2s.ts: a call bridge `cb1.example.test` sends through
 * the router, which asks the service for remote routes; the service's
 * bounces and incoming stanzas enter the router again, as the node wires it.
 */
export interface Federation {
  net: MemoryS2s;
  env: MemoryEnvironment;
  service: FederationService;
  router: LocalRouter;
  bridge: MemoryBridge;
  /** The bridge (or `from`) sends a stanza into the router. */
  send(raw: string, from?: Route): void;
}

export function federation(
  options: { config?: Partial<FederationConfig> } & Pick<FederationServiceOptions, 'liveness' | 'queueLimits' | 'retryAfterFailureMs'> = {},
): Federation {
  const net = new MemoryS2s();
  const env = new MemoryEnvironment(options.config);
  let router: LocalRouter | undefined;
  const service = new FederationService({
    env,
    connect: net.connect,
    inject: (s, origin) => router!.route(s, origin),
    clock: net.clock,
    liveness: options.liveness,
    queueLimits: options.queueLimits,
    retryAfterFailureMs: options.retryAfterFailureMs,
  });
  router = new LocalRouter({ domain: () => env.domain(), log: env.log, remote: service });
  net.attach(service.incoming);
  const bridge = new MemoryBridge('cb1.example.test');
  router.attach(bridge);
  return { net, env, service, router, bridge, send: (raw, from = bridge) => router!.route(stanza(raw), from) };
}

/** The `id` of each stanza text, in order. */
export function ids(raws: readonly string[]): string[] {
  return raws.map((raw) => /\sid=(['"])(.*?)\1/.exec(raw)?.[2] ?? '?');
}

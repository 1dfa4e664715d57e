import { SerialQueue } from '../base/serial-queue.js';
import type { NodeConfiguration } from '../node/configuration.js';
import type { XmppNode } from '../node/xmpp-node.js';
import type { FederationView } from '../node/federation-view.js';
import type { Logger } from '../observability/logger.js';
import type { TlsCredentials } from '../pki/credentials.js';
import type { NodeCredentials } from './node-credentials.js';
import type { RemoteRoutes, Route, Stanza } from '../router/router.js';
import { DEFAULT_S2S_PORT } from '../s2s/peer-addresses.js';
import { FederationService, type FederationServiceOptions } from '../s2s/federation-service.js';
import { createOutgoingConnector, type OutgoingConnectorOptions } from '../s2s/outgoing-connector.js';
import { listenS2s, type S2sListener, type S2sListenerOptions } from '../s2s/s2s-listener.js';
import type { S2sCredentials, S2sEnvironment, S2sStreamInfo } from '../s2s/server-streams.js';

/**
 * Runs federation on a node: the FederationService the router asks for
 * remote domains, and the listener on port 5269 of the interfaces the node
 * serves call bridges on. The listener runs while the XMPP service runs and
 * federation is enabled; the service re-reads the settings on every change
 * (typed here or, in a cluster, on any member) and closes only the streams
 * a change affects. In a cluster every member listens (SRV may point at any
 * of them) and hands what arrives to the router, which forwards it to the
 * leader; only the leader is asked for remote routes, so only it opens
 * outgoing streams.
 */

export interface FederationWiringOptions {
  log: Logger;
  /** The node's certificate as it follows `xmpp certs` (node-credentials.ts). */
  credentials: Pick<NodeCredentials, 'current' | 'refresh'>;
  /** The s2s port on each interface; 5269 by default (tests and `npm start` use their own addresses). */
  port?: number;
  /** Where peers are looked up (a test's DNS server). */
  lookup?: S2sEnvironment['lookup'];
  connector?: OutgoingConnectorOptions;
  listener?: S2sListenerOptions;
  service?: Partial<Pick<FederationServiceOptions, 'liveness' | 'queueLimits' | 'retryAfterFailureMs'>>;
  /** The connections view for `xmpp federation connections` (cluster-wide in a cluster); this node's own rows by default. */
  view?: (localRows: () => readonly S2sStreamInfo[]) => FederationView;
}

export interface RunningFederation {
  readonly service: FederationService;
  /** Where the listener is, while it runs. */
  bindings(): Array<{ host: string; port: number }>;
  /** Applies the node's settings now (the wiring also does on every change). */
  apply(): Promise<void>;
  close(): Promise<void>;
}

/** Our leaf for the handshake; the CA bundle is also what peers' certificates must chain to (null: none trusted, TLS still encrypts). */
function s2sCredentials(c: TlsCredentials | null): S2sCredentials | null {
  if (c === null) return null;
  return { key: c.key, cert: c.cert, ca: c.bundle.length > 0 ? c.bundle.join('') : null };
}

/** The router is built before the service: it holds this and asks through it. */
export class RemoteRoutesSlot implements RemoteRoutes {
  target: RemoteRoutes | undefined;

  routeFor(stanza: Stanza): Route | undefined {
    return this.target?.routeFor(stanza);
  }
}

/** How often the listener's desired state is compared with the node's settings (they change by command, rarely). */
const SETTLE_INTERVAL_MS = 250;

export async function startFederation(node: XmppNode, slot: RemoteRoutesSlot | undefined, options: FederationWiringOptions): Promise<RunningFederation> {
  const log = options.log.child({ module: 'XMPPFederation' });
  const env: S2sEnvironment = {
    config: () => node.configuration().federation(),
    credentials: () => s2sCredentials(options.credentials.current()),
    domain: () => node.configuration().domain() ?? '',
    nodeName: node.name,
    log,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  const service = new FederationService({
    env,
    connect: createOutgoingConnector(env, options.connector),
    inject: (stanza, origin) => node.router.route(stanza, origin),
    ...options.service,
  });
  if (slot) slot.target = service;
  const localRows = () => service.connections();
  node.federation.attach(options.view ? options.view(localRows) : { connections: async () => localRows().map((r) => ({ ...r, node: node.name })) });

  let listener: S2sListener | undefined;
  let listening = '';
  let configKey = '';
  const queue = new SerialQueue();

  const desired = (): { endpoints: Array<{ host: string; port: number }>; key: string } => {
    const state = node.serviceState();
    const config = env.config();
    if (state.state !== 'running' || !config.enabled || !env.domain()) return { endpoints: [], key: '' };
    const hosts = [...new Set(state.bindings.map((b) => b.host))].sort();
    const endpoints = hosts.map((host) => ({ host, port: options.port ?? DEFAULT_S2S_PORT }));
    return { endpoints, key: JSON.stringify(endpoints) };
  };

  // A change applies at once (typed here or, in a cluster, applied from the log), not at the next tick:
  // the listener must be up before a peer that was just allowed calls back for dialback.
  let watched: NodeConfiguration | undefined;
  let unwatch = (): void => undefined;
  const follow = (): void => {
    const config = node.configuration();
    if (config === watched) return;
    unwatch();
    watched = config;
    unwatch = config.onChange(() => void apply(true));
  };

  /** `afterChange`: a setting just changed; a certificate set just before it (`xmpp certs`, then `xmpp federation enable`) must serve the first stream, before the credentials' own refresh comes round. */
  const apply = (afterChange = false) =>
    queue.run(async () => {
      follow();
      if (afterChange) await options.credentials.refresh();
      const nextConfig = JSON.stringify(env.config());
      if (nextConfig !== configKey) {
        configKey = nextConfig;
        service.configurationChanged();
      }
      const want = desired();
      if (want.key === listening) return;
      if (listener) {
        const old = listener;
        listener = undefined;
        listening = '';
        await old.close();
      }
      if (want.endpoints.length === 0) return;
      try {
        listener = await listenS2s(env, service.incoming, want.endpoints, options.listener);
        listening = want.key;
        log.info({ event: 'listening', endpoints: listener.bindings().map((b) => `${b.host}:${b.port}`), node: node.name }, 'federation listener started');
      } catch (err) {
        // The settings stay as given; the next change (or tick) tries again.
        listening = want.key;
        log.error({ event: 'listen-failed', endpoints: want.endpoints.map((e) => `${e.host}:${e.port}`), reason: (err as Error).message }, 'the federation port cannot be opened');
      }
    });

  await apply(true);
  const timer = setInterval(() => void apply(), SETTLE_INTERVAL_MS);
  timer.unref();
  return {
    service,
    bindings: () => listener?.bindings() ?? [],
    apply: () => apply(true),
    close: async () => {
      clearInterval(timer);
      unwatch();
      await queue.run(async () => {
        if (slot) slot.target = undefined;
        node.federation.attach(undefined);
        await listener?.close();
        listener = undefined;
        await service.close();
      });
    },
  };
}

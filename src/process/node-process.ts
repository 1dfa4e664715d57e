import type { Server } from 'node:net';
import { startControlSocket } from '../mmp/control-socket.js';
import type { Interpreter } from '../mmp/interpreter.js';
import { nodeInterpreter } from '../mmp/node-commands.js';
import { startMmpSshServer, type MmpSshServer } from '../mmp/ssh/server.js';
import { UserStore } from '../mmp/users.js';
import { DEFAULT_COMPONENT_PORTS, XmppNode, type XmppNodeOptions } from '../node/xmpp-node.js';
import { DEFAULT_CLUSTER_PORT } from '../node/cluster-control.js';
import { ClusterRouting, startClustering } from './clustering.js';
import { startDns } from './dns-wiring.js';
import { NodeCredentials } from './node-credentials.js';
import { startFederation, type FederationWiringOptions, type RunningFederation } from './federation-wiring.js';
import { clusterFederationView } from '../../cluster/member/cluster-federation-view.js';
import { backupSource } from './backup-command.js';
import type { ClusterServiceOptions } from '../../cluster/member/cluster-host.js';
import type { LoopStallOptions } from '../observability/loop-stall.js';
import type { HttpEndpoint } from './http-endpoint.js';
import { startOperationsEndpoint } from './metrics-wiring.js';
import { NodeMetrics } from './node-metrics.js';
import { gracefulShutdown, type ShutdownReport } from './shutdown.js';
import { StatusPage, type StatusPageAccess } from './status-page/status-page.js';

/**
 * A node with its doors open: the XMPP service (if enabled), the MMP over
 * SSH for operators, and the MMP on the local control socket. This is what
 * `xmpp-cluster node` and `npm start` run.
 */
export interface RunningNode {
  node: XmppNode;
  interpreter: Interpreter;
  users: UserStore;
  ssh: MmpSshServer | null;
  federation: RunningFederation;
  /** The node's metrics (null with no metrics listener); `federationStreams(source)` wires federation in. */
  metrics: NodeMetrics | null;
  /** The /metrics, /healthz, /readyz listener, or null. */
  http: HttpEndpoint | null;
  /** The status page on that listener, or null; `federationSurvey(source)` wires federation in. */
  status: StatusPage | null;
  close(): Promise<void>;
  /** SIGTERM: hand off leadership, send the call bridges away, flush, close (shutdown.ts); at most timeoutMs. */
  shutdown(timeoutMs?: number): Promise<ShutdownReport>;
}

export interface MetricsListenOptions {
  host: string;
  port: number;
  /** When the port cannot be bound, log it and run without metrics (the CLI's default listener) instead of failing. */
  optional?: boolean;
  /** The /healthz stall threshold and window (tests lower them). */
  loop?: LoopStallOptions;
}

export const DEFAULT_SSH_PORT = 2222;

export interface StartNodeOptions extends XmppNodeOptions {
  /** Where the MMP listens for SSH; null: no SSH (tests of other parts). Default: the node's address, 2222. */
  ssh?: { host: string; port: number } | null;
  /** The first admin account's password, used only when no account exists yet. */
  adminPassword?: string;
  /** The cluster port peer links use on the node's address (default 5999). */
  clusterPort?: number;
  /** Listen for peers on this port instead of clusterPort, which is still advertised (a test's proxy sits there). */
  clusterListenPort?: number;
  /** Member loop timing and the cluster operations' time limits. */
  cluster?: ClusterServiceOptions;
  /** Federation's port, peer lookup and timings (federation-wiring.ts). */
  federation?: Omit<FederationWiringOptions, 'log' | 'view' | 'credentials'>;
  /** Where /metrics, /healthz and /readyz listen; undefined or null: nowhere (the CLI gives 127.0.0.1:9464 unless --no-metrics). */
  metrics?: MetricsListenOptions | null;
  /** The status page on the metrics listener: behind the admin login (default), loopback clients only, or null for none. */
  statusPage?: StatusPageAccess | null;
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const routing = new ClusterRouting();
  const node = await XmppNode.open({ router: routing.factory, ...options });
  const closers: Array<() => Promise<void>> = [() => node.close()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  let metrics = options.metrics ? new NodeMetrics(node) : null;
  closers.push(async () => metrics?.close());
  const clusterOptions = metrics ? { ...options.cluster, member: { ...options.cluster?.member, onProposal: metrics.proposal } } : options.cluster;
  try {
    // Read first: a users file this release cannot read stops the node before anything listens.
    const users = await UserStore.open(options.dataDir);
    const credentials = await NodeCredentials.start(node, options.log);
    closers.push(async () => credentials.stop());
    const cluster = await startClustering({
      credentials,
      node,
      address: options.address,
      clusterPort: options.clusterPort ?? DEFAULT_CLUSTER_PORT,
      clusterListenPort: options.clusterListenPort,
      componentPort: (options.componentPorts ?? DEFAULT_COMPONENT_PORTS)[0]!,
      log: options.log,
      service: clusterOptions,
      routing: options.router ? undefined : routing,
    });
    closers.push(() => cluster.close());
    const slot = options.router ? undefined : routing.slot;
    const federation = await startFederation(node, options.router ? undefined : routing.remote, {
      ...options.federation,
      log: options.log,
      credentials,
      ...(slot
        ? { view: (rows) => clusterFederationView(rows, { self: { id: node.identity.id, name: node.name }, members: () => cluster.zoneMembers(), transport: slot }) }
        : {}),
    });
    closers.push(() => federation.close());
    const dns = await startDns(node, options.log);
    closers.push(() => dns.close());
    let http: HttpEndpoint | null = null;
    let status: StatusPage | null = null;
    if (metrics && options.metrics) {
      metrics.attach({ router: routing.router, dns: dns.service, cluster });
      metrics.federationStreams(() => federation.service.connections());
      const { host, port } = options.metrics;
      const totals = () => ({ routed: node.router.counters.routed, forwarded: (routing.router?.forwarded.toPeers ?? 0) + (routing.router?.forwarded.fromPeers ?? 0) });
      const page = options.statusPage === null ? null : new StatusPage({ access: options.statusPage ?? 'login', node, users, totals, log: options.log });
      page?.federationSurvey(() => node.federation.survey());
      closers.push(async () => page?.close());
      try {
        http = await startOperationsEndpoint({ node, metrics, at: { host, port }, log: options.log, loop: options.metrics.loop, routes: page?.handle });
        status = page;
        const endpoint = http;
        closers.push(() => endpoint.close());
      } catch (err) {
        page?.close();
        metrics.close();
        metrics = null;
        if (!options.metrics.optional) throw err;
        options.log.warn({ module: 'http', event: 'metrics_listen_failed', reason: (err as Error).message }, 'running without the metrics listener');
      }
    }
    const interpreter = nodeInterpreter(node, { users });
    const control: Server = await startControlSocket(node.layout.controlSocket, interpreter, 'local', backupSource(node, cluster, options.log));
    closers.push(() => new Promise<void>((resolve) => control.close(() => resolve())));
    let ssh: MmpSshServer | null = null;
    const sshAt = options.ssh === undefined ? { host: options.address, port: DEFAULT_SSH_PORT } : options.ssh;
    if (sshAt) {
      await users.ensureInitialAdmin(options.adminPassword);
      ssh = await startMmpSshServer({ ...sshAt, dataDir: options.dataDir, interpreter, nodeName: () => node.name, logger: options.log, users, certFolder: node.certFolder });
      const server = ssh;
      closers.push(() => server.close());
    }
    options.log.info(
      { module: 'node', event: 'node_started', name: node.name, dataDir: options.dataDir, service: node.serviceState().state, ssh: ssh ? `${ssh.address}:${ssh.port}` : null, metrics: http?.url ?? null },
      'node started',
    );
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      await closeAll();
      options.log.info({ module: 'node', event: 'node_stopped', name: node.name }, 'node stopped');
    };
    const router = options.router ? undefined : routing.router;
    return { node, interpreter, users, ssh, federation, metrics, http, status, close, shutdown: (ms) => gracefulShutdown({ node, cluster, router, ssh, federation, log: options.log, close }, ms) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

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
import { startFederation, type FederationWiringOptions, type RunningFederation } from './federation-wiring.js';
import { clusterFederationView } from '../../cluster/member/cluster-federation-view.js';
import type { ClusterServiceOptions } from '../../cluster/member/cluster-host.js';
import { gracefulShutdown, type ShutdownReport } from './shutdown.js';

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
  close(): Promise<void>;
  /** SIGTERM: hand off leadership, send the call bridges away, flush, close (shutdown.ts); at most timeoutMs. */
  shutdown(timeoutMs?: number): Promise<ShutdownReport>;
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
  federation?: Omit<FederationWiringOptions, 'log' | 'view'>;
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const routing = new ClusterRouting();
  const node = await XmppNode.open({ router: routing.factory, ...options });
  const closers: Array<() => Promise<void>> = [() => node.close()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const cluster = await startClustering({
      node,
      address: options.address,
      clusterPort: options.clusterPort ?? DEFAULT_CLUSTER_PORT,
      clusterListenPort: options.clusterListenPort,
      componentPort: (options.componentPorts ?? DEFAULT_COMPONENT_PORTS)[0]!,
      log: options.log,
      service: options.cluster,
      routing: options.router ? undefined : routing,
    });
    closers.push(() => cluster.close());
    closers.push(await startDns(node, options.log));
    const slot = options.router ? undefined : routing.slot;
    const federation = await startFederation(node, options.router ? undefined : routing.remote, {
      ...options.federation,
      log: options.log,
      ...(slot
        ? { view: (rows) => clusterFederationView(rows, { self: { id: node.identity.id, name: node.name }, members: () => cluster.zoneMembers(), transport: slot }) }
        : {}),
    });
    closers.push(() => federation.close());
    const users = await UserStore.open(options.dataDir);
    const interpreter = nodeInterpreter(node, { users });
    const control: Server = await startControlSocket(node.layout.controlSocket, interpreter);
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
      { module: 'node', event: 'node_started', name: node.name, dataDir: options.dataDir, service: node.serviceState().state, ssh: ssh ? `${ssh.address}:${ssh.port}` : null },
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
    return { node, interpreter, users, ssh, federation, close, shutdown: (ms) => gracefulShutdown({ node, cluster, router, ssh, federation, log: options.log, close }, ms) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

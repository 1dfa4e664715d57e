import { isIP } from 'node:net';
import { join } from 'node:path';
import { ClusterService, type ClusterServiceOptions } from '../../cluster/member/cluster-service.js';
import type { ClusterHost } from '../../cluster/member/cluster-host.js';
import { ClusterRouter } from '../../cluster/routing/cluster-router.js';
import { TlsTransport } from '../../cluster/transport/tls-transport.js';
import { TransportSlot } from '../../cluster/transport/transport-slot.js';
import { RemoteRoutesSlot } from './federation-wiring.js';
import type { NodeCredentials } from './node-credentials.js';
import type { PeerSecurity } from '../../cluster/transport/peer-security.js';
import { OperatorError } from '../base/operator-error.js';
import type { Logger } from '../observability/logger.js';
import type { TrustSetting } from '../node/configuration.js';
import { loadTlsCredentials } from '../pki/credentials.js';
import type { RouterEnvironment, XmppNode } from '../node/xmpp-node.js';

/**
 * The one place where the node meets the cluster: a ClusterHost over an
 * XmppNode (its identity, settings, certificate folder and configuration),
 * the mutual-TLS transport on the cluster port, and the ClusterService that
 * `xmpp cluster ...` drives. src/ below this floor sees only the interfaces
 * in src/node (ClusterControl, NodeConfiguration).
 */

export interface ClusteringOptions {
  node: XmppNode;
  /** The node's own address: its cluster link listens there. */
  address: string;
  clusterPort: number;
  /**
   * Where the cluster link really listens, when not clusterPort (tests put a
   * fault-injecting proxy on the advertised port that forwards here).
   */
  clusterListenPort?: number;
  /** The first component port, for `cluster status`'s `address:port`. */
  componentPort: number;
  log: Logger;
  service?: ClusterServiceOptions;
  /** The node's router, when it was built by clusterRouting(): it follows the leader and the members. */
  routing?: ClusterRouting;
  /** The node's certificate as it changes; without it, the one loaded when the transport is made. */
  credentials?: NodeCredentials;
}

/**
 * The router every node runs, standalone or clustered: a ClusterRouter that
 * leads itself while the node is alone (then it routes exactly as
 * LocalRouter) and forwards to the Raft leader once it is a member. It is
 * built with the node, before any cluster transport exists, so it holds a
 * TransportSlot that each new transport is bound into.
 */
export class ClusterRouting {
  router: ClusterRouter | undefined;
  slot: TransportSlot | undefined;
  /** Federation's routes to remote domains, used where this node leads (federation-wiring.ts fills it). */
  readonly remote = new RemoteRoutesSlot();

  /** XmppNodeOptions.router */
  readonly factory = (env: RouterEnvironment): ClusterRouter => {
    this.slot = new TransportSlot({ id: env.nodeId, name: '', endpoint: { host: '', port: 0 } });
    this.router = new ClusterRouter({ self: env.nodeId, domain: env.domain, log: env.log, transport: this.slot, remote: this.remote });
    this.router.setMembers([]);
    this.router.setLeader(env.nodeId);
    return this.router;
  };

  follow(service: ClusterService, selfId: string): void {
    const router = this.router;
    if (!router) return;
    this.service = service;
    this.selfId = selfId;
    service.on('role', (e) => this.service?.isMember() && router.setLeader(e.leader === '' ? undefined : e.leader));
    service.on('membership', () => this.service?.isMember() && router.setMembers(service.memberIds()));
    if (service.isMember()) this.clustered();
  }

  /** The node became a member (initialize, join, or resumed at start): route through the leader it knows, or wait for one. */
  clustered(): void {
    const service = this.service;
    if (!service || !this.router) return;
    this.router.setMembers(service.memberIds());
    this.router.setLeader(service.leaderId());
  }

  /** The node is standalone again (left, removed, or a join that failed): it routes for itself. */
  standalone(): void {
    this.slot?.bind(undefined);
    this.router?.setMembers([]);
    if (this.selfId) this.router?.setLeader(this.selfId);
  }

  private selfId: string | undefined;
  private service: ClusterService | undefined;
}

export async function startClustering(options: ClusteringOptions): Promise<ClusterService> {
  const { node, log } = options;
  let transport: TlsTransport | undefined;
  let offTrust = (): void => undefined;
  const host: ClusterHost = {
    nodeId: node.identity.id,
    nodeName: node.name,
    clusterEndpoint: { host: options.address, port: options.clusterPort },
    componentEndpoint: () => `${options.address}:${options.componentPort}`,
    raftDir: join(node.layout.root, 'raft'),
    settings: () => {
      const s = node.settings();
      return { clusterEnabled: s.clusterEnabled, certs: s.certs, xmppEnabled: s.enabled };
    },
    localConfiguration: () => node.local,
    useConfiguration: async (config) => {
      node.useConfiguration(config);
      offTrust();
      // A new bundle applies to the next handshake by itself; links already up are checked again now.
      const off = config.onChange((change) => {
        if (change.type === 'trust') void transport?.recheckPeers();
      });
      offTrust = () => void off();
      if (config.kind === 'local') options.routing?.standalone();
      else options.routing?.clustered();
    },
    disableClustering: () => node.setClusterEnabled(false),
    createTransport: async (trust) => {
      transport = new TlsTransport({
        self: { id: node.identity.id, name: node.name, endpoint: { host: options.address, port: options.clusterPort }, features: ClusterRouter.features },
        ...(options.clusterListenPort === undefined ? {} : { listen: { host: options.address, port: options.clusterListenPort } }),
        // Dial from our own address, so that the peer (or a proxy) sees which member calls.
        ...(isIP(options.address) && options.address !== '0.0.0.0' && options.address !== '::' ? { dialFrom: options.address } : {}),
        security: await peerSecurity(node, trust, options.credentials),
        log: log.child({ module: 'cluster-link' }),
      });
      options.routing?.slot?.bind(transport);
      await transport.start().catch((err: Error) => {
        throw new OperatorError(`cannot listen on the cluster port ${options.address}:${options.clusterListenPort ?? options.clusterPort}: ${err.message}`);
      });
      return transport;
    },
    logger: log.child({ module: 'cluster' }),
  };
  const service = await ClusterService.open(host, options.service);
  let leader: string | undefined;
  service.on('role', (e) => {
    if (e.leader === leader) return;
    leader = e.leader;
    log.info({ module: 'cluster', event: 'leader_changed', leader: e.leader || 'none', role: e.role, term: e.term }, e.leader ? 'the cluster has a leader' : 'the cluster has no leader');
  });
  options.routing?.follow(service, node.identity.id);
  const router = options.routing?.router;
  node.attachCluster(service, router ? () => router.sessions() : undefined);
  return service;
}

/**
 * What each new peer connection presents and checks: the node's certificate
 * (`xmpp certs`, read now) and the trust bundle as it is at that handshake
 * (it follows the replicated `xmpp cluster trust`).
 */
async function peerSecurity(node: XmppNode, trust: () => TrustSetting, followed: NodeCredentials | undefined): Promise<() => PeerSecurity> {
  const certs = node.settings().certs;
  if (!certs) throw new OperatorError('no certificates set (xmpp certs <key-file> <crt-file>)');
  // Checked now, so that a cluster is never formed with a certificate that cannot be used.
  const initial = await loadTlsCredentials(node.certFolder, certs.key, certs.cert, certs.bundle ?? undefined);
  return () => {
    // A certificate changed since (`xmpp certs`, a renewal over SFTP) serves the next handshake.
    const credentials = followed?.current() ?? initial;
    const chain = [credentials.cert, ...credentials.bundle].join('');
    const t = trust();
    if (t.kind === 'insecure-lab') return { key: credentials.key, cert: chain, trust: { kind: 'insecure-lab' } };
    // A member cannot clear its bundle (XmppNode.setClusterTrust); should a state
    // without one ever be replicated, trust nothing but this node's own
    // certificate, never an empty `ca`, which node:tls reads as its default roots.
    return { key: credentials.key, cert: chain, trust: { kind: 'pem', ca: t.kind === 'pem' ? t.pem : credentials.cert } };
  };
}

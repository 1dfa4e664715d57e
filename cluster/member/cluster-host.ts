/**
 * What the cluster service needs of its node, and its settings. src/process
 * wires a ClusterHost from the node's data directory, settings and
 * certificates; tests wire one over a MemoryNetwork.
 */
import type { Logger } from '../../src/observability/logger.js';
import type { NodeConfiguration, TrustSetting } from '../../src/node/configuration.js';
import type { PeerEndpoint, Transport } from '../transport/transport.js';
import type { RaftMemberOptions } from './raft-member-options.js';

export interface ClusterHostSettings {
  /** `xmpp cluster enable` was given. */
  readonly clusterEnabled: boolean;
  /** `xmpp certs`: file names in the certificate folder. */
  readonly certs: { readonly key: string; readonly cert: string } | null;
  /** `xmpp enable` was given. */
  readonly xmppEnabled: boolean;
}

/** What the cluster service needs of its node (src/process wires it). */
export interface ClusterHost {
  /** identity.json's id: survives `xmpp reset`. */
  readonly nodeId: string;
  readonly nodeName: string;
  /** Where this node's cluster link listens (its address and cluster port). */
  readonly clusterEndpoint: PeerEndpoint;
  /** `host:port`: its address and first component port, as `cluster status` lists it. */
  componentEndpoint(): string;
  /** Folder of the Raft storage; cleared when the node leaves. */
  readonly raftDir: string;
  settings(): ClusterHostSettings;
  /** The node's own configuration in its data directory. */
  localConfiguration(): NodeConfiguration;
  /** Switches the node to `config` (the replicated one on initialize/join, the local one on leave/removal). */
  useConfiguration(config: NodeConfiguration): Promise<void>;
  /** Undoes `xmpp cluster enable` once the node is standalone again. */
  disableClustering(): Promise<void>;
  /** Creates and starts the peer transport; `trust` is asked at each handshake (it follows the replicated trust). */
  createTransport(trust: () => TrustSetting): Promise<Transport>;
  readonly logger?: Logger;
}

export interface ClusterServiceOptions {
  /** Member loop settings (tick, election, snapshot thresholds). */
  readonly member?: Partial<Omit<RaftMemberOptions, 'id' | 'transport' | 'dir' | 'storage'>>;
  /** Dialing the member named in `join`. Default 5 s. */
  readonly dialTimeoutMs?: number;
  /** The whole join, as the joiner waits for it. Default 60 s. */
  readonly joinTimeoutMs?: number;
  /** One proposal or membership change. Default 10 s. */
  readonly changeTimeoutMs?: number;
  /** A joining learner catching up. Default 30 s. */
  readonly catchUpTimeoutMs?: number;
}

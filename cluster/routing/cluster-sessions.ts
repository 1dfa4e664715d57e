import type { PeerId } from '../transport/transport.js';

/** What a ClusterRouter reports about the cluster's sessions and its own traffic, for `xmpp status` and the metrics. */

export interface ForwardedCounters {
  toPeers: number;
  fromPeers: number;
}

/** One call-bridge session of the cluster, for `xmpp status`. */
export interface ClusterSessionInfo {
  readonly address: string;
  /** The member it is connected to. */
  readonly node: PeerId;
  readonly peer: string;
  readonly since: Date;
}

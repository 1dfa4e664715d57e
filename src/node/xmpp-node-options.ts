/** What an XmppNode is opened with, and the shapes of its status (xmpp-node.ts). */
import type { Binding } from '../component/component-server.js';
import type { AuthThrottleOptions, HandshakeCounts } from '../component/auth-throttle.js';
import type { ComponentSessionInfo, ComponentSessionOptions } from '../component/component-session.js';
import type { PreauthLimits } from '../component/preauth-queue.js';
import type { Logger } from '../observability/logger.js';
import type { Router, RouterCounters } from '../router/router.js';

export const DEFAULT_COMPONENT_PORTS = [5222, 5223];

export interface XmppNodeOptions {
  dataDir: string;
  /** The node's name, shown in the MMP prompt (`cb1> `). */
  name: string;
  /** The node's own address: what interface `a` means unless mapped otherwise. */
  address: string;
  /** Extra interface letters, e.g. { b: '10.0.0.2' }. */
  interfaces?: Record<string, string>;
  componentPorts?: number[];
  log: Logger;
  /** false: never open ports (an offline edit of the data directory). */
  serve?: boolean;
  sessionOptions?: Partial<ComponentSessionOptions>;
  authThrottle?: Partial<AuthThrottleOptions>;
  preauthLimits?: Partial<PreauthLimits>;
  /** How long to wait for another process (an offline `mmp` edit) to release the data directory; default 10 s. */
  lockWaitMs?: number;
  /** Builds the router the sessions hand stanzas to; a LocalRouter by default (one node, no federation). */
  router?: (env: RouterEnvironment) => Router;
}

/** What the node gives the router it builds. */
export interface RouterEnvironment {
  /** identity.json's id: who this node is among cluster members. */
  nodeId: string;
  /** The XMPP domain served now; it changes with `xmpp domain`. */
  domain: () => string;
  log: Logger;
}

export const DEFAULT_LOCK_WAIT_MS = 10_000;

export type ServiceState =
  | { state: 'running'; bindings: readonly Binding[] }
  | { state: 'disabled' }
  | { state: 'not-configured'; missing: string }
  | { state: 'failed'; reason: string };

export interface NodeStatus {
  service: ServiceState;
  sessions: ComponentSessionInfo[];
  counters: Readonly<RouterCounters>;
  /** Component handshakes since the node started, by result (the metrics endpoint). */
  handshakes: Readonly<HandshakeCounts>;
}

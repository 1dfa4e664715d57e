import type { Logger } from '../observability/logger.js';
import type { Route, Stanza } from '../router/router.js';
import type { FederationEvents } from './federation-events.js';
import type { OutboundQueueLimits, Undelivered } from './outbound-queue.js';
import type { OutgoingConnector, OutgoingStream } from './server-streams.js';
import type { StreamAdmission } from './stream-admission.js';
import type { LivenessOptions } from './stream-liveness.js';
import type { Clock } from './stream-watch.js';

/** What a RemoteRoute (remote-route.ts) needs of the FederationService that holds it. */
export interface RemoteRouteContext {
  readonly connect: OutgoingConnector;
  readonly clock: Clock;
  readonly liveness: Partial<LivenessOptions>;
  readonly queueLimits: OutboundQueueLimits;
  readonly events: FederationEvents;
  readonly log: Logger;
  /**
   * After a failed connection, new stanzas for the pair bounce at once with
   * the same condition for this long, instead of each starting a connection
   * of its own: a bridge sending steadily to an unreachable domain would
   * otherwise run DNS and TCP per stanza. A few seconds, so a peer that comes
   * back is used again almost at once (never a permanent black-hole).
   */
  readonly retryAfterFailureMs: number;
  /** Routes bounces back to their senders, counts and logs what gets none. */
  undelivered(what: Undelivered, origin: Route): void;
  /** The current settings, to check a stream that finished setting up after a change. */
  admission(): StreamAdmission;
  /** A fresh id for an XEP-0199 ping, recognizable by its prefix. */
  pingId(): string;
  /** A stanza the peer sent on our outgoing stream (a bidirectional peer): routed like incoming traffic. */
  received(stanza: Stanza, stream: OutgoingStream): void;
  /** Counters the service reports. */
  count(what: 'resent' | 'pings'): void;
}

import type { Logger } from '../observability/logger.js';
import type { Stanza } from '../router/router.js';
import type { StreamError } from '../xmpp/errors.js';
import type { AttemptOutcome } from './connect-failure.js';
import type { FederationPolicySettings, StreamDirection } from './federation-policy.js';
import type { PeerLookupOptions } from './peer-addresses.js';

/**
 * What the server-to-server protocol (incoming and outgoing RFC 6120 server
 * streams with STARTTLS, SASL EXTERNAL and dialback) offers the federation
 * service that routes over it, and what it needs from its surroundings. The
 * protocol modules know sockets and XML; the service knows queues, policy,
 * liveness and the router. Neither reaches into the other past these types.
 */

/** federation.md: `none` (No TLS), `optional` (TLS optional), `required` (TLS required). */
export type SecurityMode = 'none' | 'optional' | 'required';

/**
 * The federation settings, as a standalone node keeps them or a cluster
 * replicates them (cluster/state's `federation()` view has this shape).
 * Read again for every new stream and every decision, so that a change
 * applies at once.
 */
export interface FederationConfig extends FederationPolicySettings {
  readonly enabled: boolean;
  /** null until federation is first enabled (a secret is generated then). */
  readonly dialbackSecret: string | null;
  readonly securityMode: SecurityMode;
  /** `client-certs on`: a peer's certificate must chain to the CA bundle and name its domain. */
  readonly clientCertsRequired: boolean;
  readonly saslExternal: { readonly incoming: boolean; readonly outgoing: boolean };
}

/** The node's certificate (`xmpp certs`), PEM. Without one no TLS is possible in either direction. */
export interface S2sCredentials {
  readonly key: string;
  /** The leaf, then any intermediates. */
  readonly cert: string;
  /** The CA bundle peers' certificates must chain to; null: none is trusted (TLS still encrypts). */
  readonly ca: string | null;
}

export interface S2sEnvironment {
  config(): FederationConfig;
  credentials(): S2sCredentials | null;
  /** Our XMPP domain: streams to it or to any name under it (our call bridges) are ours. */
  domain(): string;
  /** This node's name, for events and `xmpp federation connections`. */
  nodeName: string;
  /** Already bound to `module: "XMPPFederation"`. */
  log: Logger;
  /** How peers are found (tests point it at their DNS server). */
  lookup?: Omit<PeerLookupOptions, 'routes'>;
}

export type S2sAuth = 'sasl' | 'dialback';

/** How a stream ended, for `connection-closed` and for the service's next step. */
export type S2sCloseReason =
  | { readonly by: 'peer'; readonly error?: string }
  | { readonly by: 'us'; readonly why: 'idle' | 'ping-timeout' | 'policy' | 'security' | 'shutdown' | 'error'; readonly error?: StreamError }
  | { readonly by: 'socket'; readonly message: string };

/** One row of `xmpp federation connections` (federation.md) before layout. */
export interface S2sStreamInfo {
  /** Unique on this node, for logs. */
  readonly id: string;
  readonly direction: StreamDirection;
  /** Our side of the pair: the domain or a call bridge under it. */
  readonly localDomain: string;
  /** The remote domain (incoming: the first one authorized on it). */
  readonly remoteDomain: string;
  /** `ip:port` of the other end. */
  readonly peerAddress: string;
  /** `TLS 1.3`, `TLS 1.2`, or null for a plain stream. */
  readonly tls: string | null;
  readonly auth: S2sAuth;
  /** ms since the epoch of the last stanza in either direction (for `Idle` and the idle timeout). */
  readonly lastActivity: number;
}

/** An authenticated outgoing stream, ready to carry stanzas from `localDomain` to `remoteDomain`. */
export interface OutgoingStream extends S2sStreamInfo {
  /** Writes a stanza's text; false when over the send high-water mark (then wait for onDrained). */
  send(raw: string): boolean;
  onDrained(callback: () => void): void;
  /** Ends it: cleanly, or with a stream error. */
  close(reason: S2sCloseReason & { by: 'us' }): void;
  /** Called once when it ended, by either side. */
  onClosed(callback: (reason: S2sCloseReason) => void): void;
  /** Whatever the peer sends on our outgoing stream (a bidirectional peer, an error): routed like incoming traffic. */
  onStanza(callback: (stanza: Stanza) => void): void;
}

/** Why no outgoing stream could be set up: one outcome per address tried (connect-failure.ts turns it into the bounce). */
export class S2sConnectError extends Error {
  constructor(
    readonly domain: string,
    readonly outcomes: readonly AttemptOutcome[],
    message: string,
  ) {
    super(message);
    this.name = 'S2sConnectError';
  }
}

export interface OutgoingRequest {
  readonly localDomain: string;
  readonly remoteDomain: string;
}

/** Finds the peer (static routes, SRV, A/AAAA), connects, secures and authenticates; rejects with S2sConnectError. */
export type OutgoingConnector = (request: OutgoingRequest) => Promise<OutgoingStream>;

/** An incoming stream once at least one remote domain is authorized on it. */
export interface IncomingStream extends S2sStreamInfo {
  /** Remote domains allowed to send on it (SASL EXTERNAL: one; dialback: each verified pair's sender). */
  readonly authorizedDomains: ReadonlySet<string>;
  /** Back-pressure, as Route.hold/release: stop reading the peer for `reason`. */
  hold(reason: object): void;
  release(reason: object): void;
  close(reason: S2sCloseReason & { by: 'us' }): void;
}

/** What the listener tells the service about incoming streams. */
export interface IncomingHooks {
  /** A remote domain became authorized on the stream (the first one makes it a connection). */
  authorized(stream: IncomingStream, domain: string): void;
  /**
   * A stanza whose `from` is authorized on the stream and whose `to` is
   * ours (the stream has checked both: `<invalid-from/>`, `<host-unknown/>`).
   */
  stanza(stanza: Stanza, stream: IncomingStream): void;
  /** Called once per stream that was authorized, when it ends. */
  closed(stream: IncomingStream, reason: S2sCloseReason): void;
}

/**
 * Links between cluster members. One connection per pair of members carries
 * three kinds of frames: Raft messages, control requests of the member layer
 * (join, forwarded commands, session reports) and forwarded stanzas. Raft and
 * control frames go ahead of stanza frames, so a flood of stanzas never delays
 * a heartbeat past an election timeout.
 *
 * Two implementations run one behaviour suite
 * (test/cluster/transport/transport-behaviour.ts): `TlsTransport` (mutual TLS
 * 1.3 on the cluster port) and `MemoryTransport` (in-process, for tests of the
 * layers above, with partitions and crashes on demand).
 */

/** A member's stable id: the `id` of its identity.json. */
export type PeerId = string;

export interface PeerEndpoint {
  readonly host: string;
  readonly port: number;
}

/** What each side of a link says about itself once the link is up. */
export interface PeerHello {
  readonly id: PeerId;
  /** The node's name (`cb1`), for logs and `xmpp cluster status`. */
  readonly name: string;
  /** Where its cluster port listens. */
  readonly endpoint: PeerEndpoint;
  /**
   * What the layers above it speak beyond the protocol version (the router's
   * batch frames), so that a release without a feature can share a cluster
   * with one that has it during a rolling upgrade. Absent: none.
   */
  readonly features?: readonly string[];
}

export type FrameKind = 'raft' | 'control' | 'stanza';

export type TransportErrorCode =
  /** Nothing answered at the address within the time allowed. */
  | 'unreachable'
  /** The other side's certificate does not chain to our trust bundle. */
  | 'peer-untrusted'
  /** The other side refused our certificate. */
  | 'refused-by-peer'
  /** The other side spoke, but not our protocol (or a malformed frame). */
  | 'protocol'
  | 'closed';

export class TransportError extends Error {
  constructor(
    readonly code: TransportErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

export interface TransportEvents {
  /** A whole frame from a peer whose link is up. */
  frame: (from: PeerId, kind: FrameKind, payload: Uint8Array) => void;
  /** A link is up: the hello exchange is done (after the TLS handshake, both ways trusted). */
  linkUp: (peer: PeerHello) => void;
  /**
   * A link closed: the peer's process died (its sockets reset at once), the
   * network failed, or a malformed frame ended it. Frames queued on it are lost;
   * the layers above resend what they must (Raft retries on its own).
   */
  linkDown: (peer: PeerId, reason: string) => void;
}

export interface Transport {
  readonly self: PeerHello;
  /** Starts listening for peers (the TLS transport: on `self.endpoint`). */
  start(): Promise<void>;
  /**
   * The members to keep links with: a link is dialed to each one that has
   * none, and redialed with jittered backoff while it stays in the set. Links
   * with others (a node that is joining) stay up while either side uses them.
   */
  setPeers(peers: ReadonlyMap<PeerId, PeerEndpoint>): void;
  /**
   * Opens a link to an endpoint whose id we do not know yet (`xmpp cluster
   * join <address>`), and resolves with the other side's hello once it is up.
   * Rejects with a TransportError: `unreachable` names the address, the port
   * and how long it tried; `peer-untrusted` and `refused-by-peer` say which
   * side refused which certificate.
   */
  dial(endpoint: PeerEndpoint, timeoutMs: number): Promise<PeerHello>;
  /**
   * Queues one frame. Returns false, and drops it, when there is no link up
   * to `to`. Raft and control frames are written before any queued stanza frame.
   */
  send(to: PeerId, kind: FrameKind, payload: Uint8Array): boolean;
  /** Bytes of stanza frames queued for `to` and not yet handed to the socket. */
  queuedStanzaBytes(to: PeerId): number;
  /** Peers with a link up now. */
  connected(): PeerId[];
  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void;
  /** Closes the listener and every link; resolves once they are closed. */
  close(): Promise<void>;
}

/** The largest frame a link accepts; a bigger one closes the link (snapshots are far smaller). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function formatEndpoint(endpoint: PeerEndpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

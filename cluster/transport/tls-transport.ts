import type { Socket } from 'node:net';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../src/observability/logger.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { Redialer } from './redialer.js';
import { PeerConnection, type ClosedBy, type ConnectionHandler } from './peer-connection.js';
import { PeerLink } from './peer-link.js';
import { noLongerTrusted } from './peer-recheck.js';
import { certificateSubject, clientOptions, sameSecurity, serverContextOptions, verificationFailure, type PeerSecurity } from './peer-security.js';
import { DEFAULT_MAX_FRAME_BYTES, formatEndpoint, TransportError, type FrameKind, type PeerEndpoint, type PeerHello, type PeerId, type Transport, type TransportEvents } from './transport.js';

export interface TlsTransportOptions {
  /** Our hello; with port 0 the listener takes an ephemeral port and `self` then names it. */
  self: PeerHello;
  /** Called for each new connection, so a new certificate or trust bundle applies to new links. */
  security: () => PeerSecurity;
  log: Logger;
  /** Where to listen, when not `self.endpoint` (e.g. 0.0.0.0 behind the advertised address). */
  listen?: PeerEndpoint;
  /**
   * The local address outgoing links bind to (the node's own address), so
   * that a peer, or a proxy in front of it, sees which member dials.
   */
  dialFrom?: string;
  maxFrameBytes?: number;
  backoff?: Partial<BackoffOptions>;
  /** How long a trusted connection may take to send its hello (ms). */
  helloTimeoutMs?: number;
  /** Stanza frames go to a socket only while it holds less than this unwritten. */
  stanzaMarkBytes?: number;
}

/**
 * Mutual TLS 1.3 links between members on the cluster port (transport.ts says
 * what a link carries). Both ends dial the members they want; when both dial
 * at once, the connection dialed by the smaller id is kept on both sides and
 * the other closed, and the link survives the swap without linkDown.
 *
 * setPeers: peers no longer in the set are not redialed, and a link this
 * side dialed to one of them is closed; a link the removed peer dialed stays
 * until it closes it (it may still be told it was removed, or be joining).
 */
export class TlsTransport implements Transport {
  private hello: PeerHello;
  private readonly log: Logger;
  private readonly maxFrameBytes: number;
  private readonly backoff: BackoffOptions;
  private readonly helloTimeoutMs: number;
  private readonly stanzaMarkBytes: number;
  private server: Server | undefined;
  private serverSecurity: PeerSecurity | undefined;
  /** Every socket not yet closed, handshaking or not, so close() can end them all. */
  private readonly sockets = new Set<Socket>();
  /** Trusted connections still waiting for the peer's hello. */
  private readonly awaitingHello = new Set<PeerConnection>();
  private readonly links = new Map<PeerId, PeerLink>();
  private readonly redialer: Redialer;
  private readonly handlers: { [E in keyof TransportEvents]: TransportEvents[E][] } = { frame: [], linkUp: [], linkDown: [] };
  private closing = false;
  private readonly connections: ConnectionHandler = {
    hello: (conn, hello) => this.onHello(conn, hello),
    frame: (conn, kind, payload) => this.onFrame(conn, kind, payload),
    drain: (conn) => this.onDrain(conn),
    retired: (conn) => this.onRetired(conn),
    closed: (conn, reason, by) => this.onClosed(conn, reason, by),
  };

  constructor(private readonly options: TlsTransportOptions) {
    this.hello = options.self;
    this.log = options.log.child({ component: 'cluster-transport' });
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.helloTimeoutMs = options.helloTimeoutMs ?? 5000;
    this.stanzaMarkBytes = options.stanzaMarkBytes ?? 64 * 1024;
    const connect = (endpoint: PeerEndpoint) => this.connectOnce(endpoint, Math.max(this.helloTimeoutMs, this.backoff.maxMs));
    this.redialer = new Redialer(this.backoff, { connect, linked: (id) => this.links.has(id) }, this.log);
  }

  get self(): PeerHello {
    return this.hello;
  }

  async start(): Promise<void> {
    const at = this.options.listen ?? this.hello.endpoint;
    this.serverSecurity = this.options.security();
    // The client's certificate is checked by `accepted` (rejectUnauthorized is
    // false so the refusal can be logged with who and why); no byte is read or
    // written on a connection before that check.
    const server = createServer({ ...serverContextOptions(this.serverSecurity), requestCert: true, rejectUnauthorized: false });
    // Runs before tls.Server's own listener wraps the socket, so a changed
    // certificate or bundle applies to this very connection.
    server.prependListener('connection', (raw: Socket) => {
      this.track(raw);
      this.refreshServerSecurity(server);
    });
    server.on('secureConnection', (socket: TLSSocket) => this.accepted(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      const remote = `${socket.remoteAddress}:${socket.remotePort}`;
      this.log.warn({ event: 'tls_handshake_failed', remote, reason: err.code ?? err.message }, 'cluster TLS handshake failed');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log.error({ event: 'listener_error', err }, 'cluster listener error'));
    this.server = server;
    const address = server.address();
    if (this.hello.endpoint.port === 0 && address && typeof address === 'object') {
      this.hello = { ...this.hello, endpoint: { host: this.hello.endpoint.host, port: address.port } };
    }
    this.log.info({ event: 'listening', endpoint: formatEndpoint(this.hello.endpoint) }, 'cluster port listening');
    this.redialer.start();
  }

  setPeers(peers: ReadonlyMap<PeerId, PeerEndpoint>): void {
    const wanted = new Map([...peers].filter(([id]) => id !== this.hello.id));
    for (const id of this.redialer.want(wanted)) {
      const conn = this.links.get(id)?.conn;
      if (conn?.direction === 'out') conn.retire('peer no longer a member');
    }
  }

  async dial(endpoint: PeerEndpoint, timeoutMs: number): Promise<PeerHello> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let reason: string;
      try {
        return await this.connectOnce(endpoint, Math.max(1, timeoutMs - (Date.now() - started)));
      } catch (err) {
        if (!(err instanceof TransportError) || err.code !== 'unreachable') throw err;
        reason = err.message;
      }
      const left = timeoutMs - (Date.now() - started);
      if (left <= 0 || this.closing) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        throw new TransportError('unreachable', `cannot reach ${formatEndpoint(endpoint)} (tried for ${seconds} s): ${reason}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, backoffDelay(this.backoff, attempt))));
    }
  }

  send(to: PeerId, kind: FrameKind, payload: Uint8Array): boolean {
    const link = this.links.get(to);
    if (!link) return false;
    link.send(kind, payload);
    return true;
  }

  queuedStanzaBytes(to: PeerId): number {
    return this.links.get(to)?.queuedStanzaBytes ?? 0;
  }

  connected(): PeerId[] {
    return [...this.links.keys()];
  }

  /**
   * Checks every link's peer against the trust bundle as it is now (call it
   * when the bundle changed): a peer it no longer trusts is logged as
   * `peer_refused` and its link closed; the redial then fails at the handshake.
   */
  async recheckPeers(): Promise<void> {
    const security = this.options.security();
    for (const [id, link] of [...this.links]) {
      const conn = link.conn;
      if (!conn || conn.closed) continue;
      const reason = await noLongerTrusted(conn.socket, security);
      if (!reason || this.links.get(id)?.conn !== conn) continue;
      this.log.warn({ event: 'peer_refused', remote: conn.address, peer: id, peerName: link.hello.name, ...certificateSubject(conn.socket), reason }, 'closing a cluster link: the trust bundle changed');
      conn.destroy(reason);
    }
  }

  on<E extends keyof TransportEvents>(event: E, handler: TransportEvents[E]): void {
    this.handlers[event].push(handler);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.redialer.stop();
    const closed = [...this.sockets].map((s) => new Promise((resolve) => (s.destroyed ? resolve(undefined) : s.once('close', resolve))));
    const serverClosed = new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    for (const socket of this.sockets) socket.destroy();
    for (const id of [...this.links.keys()]) this.dropLink(id, 'closed');
    await Promise.all([...closed, serverClosed]);
  }

  private onHello(conn: PeerConnection, hello: PeerHello): void {
    this.awaitingHello.delete(conn);
    if (hello.id === this.hello.id) {
      this.log.warn({ event: 'hello_rejected', remote: conn.address, reason: 'the peer has our own id' }, 'closing a cluster link to a node with our id');
      conn.destroy('the peer has our own id');
      return;
    }
    const link = this.links.get(hello.id);
    if (!link) {
      const fresh = new PeerLink(hello, conn, this.stanzaMarkBytes);
      this.links.set(hello.id, fresh);
      this.redialer.linkedUp(hello.id);
      this.log.info({ event: 'link_up', peer: hello.id, peerName: hello.name, remote: conn.address, direction: conn.direction }, 'cluster link up');
      for (const h of this.handlers.linkUp) h(hello);
    } else if (!link.conn) {
      link.attach(conn, hello);
    } else if (this.keeps(link.conn, conn)) {
      conn.retire('duplicate link; the other connection is kept');
    } else {
      const old = link.conn;
      link.attach(conn, hello);
      old.retire('duplicate link; this connection is replaced');
    }
    conn.outcome?.resolve(hello);
    this.settleSwitching();
  }

  private onFrame(conn: PeerConnection, kind: FrameKind, payload: Buffer): void {
    // A retired duplicate still delivers what the peer wrote on it before it saw the swap.
    const from = conn.remote!.id;
    if (!this.links.has(from)) return;
    for (const h of this.handlers.frame) h(from, kind, payload);
  }

  private onDrain(conn: PeerConnection): void {
    const link = conn.remote ? this.links.get(conn.remote.id) : undefined;
    if (link?.conn === conn) link.pump();
  }

  private onRetired(conn: PeerConnection): void {
    const link = this.links.get(conn.remote!.id);
    if (link?.conn !== conn) return;
    // The peer keeps another connection, whose hello is on its way (it read ours).
    link.conn = undefined;
    this.settleSwitching();
  }

  private onClosed(conn: PeerConnection, reason: string, by: ClosedBy): void {
    this.awaitingHello.delete(conn);
    if (!conn.remote) {
      conn.outcome?.reject(reason, by);
      this.settleSwitching();
      return;
    }
    const link = this.links.get(conn.remote.id);
    if (!link || link.conn !== conn) return;
    if (this.closing || this.awaitingHello.size === 0) return this.dropLink(conn.remote.id, reason);
    // A connection awaiting its hello may be the peer's replacement for this
    // one (the tie-break closed this one on the other side): the link waits
    // for those hellos before it is declared down.
    link.conn = undefined;
    this.log.debug({ event: 'link_switching', peer: conn.remote.id, reason }, 'cluster connection closed; waiting for a replacement');
  }

  /** Which of two connections to one peer stays: the one dialed by the smaller id, or the newer when one side dialed both. */
  private keeps(current: PeerConnection, other: PeerConnection): boolean {
    const a = current.dialer()!;
    const b = other.dialer()!;
    if (a === b) return false;
    return a < b;
  }

  private settleSwitching(): void {
    if (this.awaitingHello.size > 0) return;
    for (const [id, link] of [...this.links]) if (!link.conn) this.dropLink(id, 'connection closed');
  }

  private dropLink(id: PeerId, reason: string): void {
    const link = this.links.get(id);
    if (!link) return;
    this.links.delete(id);
    this.log.info({ event: 'link_down', peer: id, peerName: link.hello.name, reason }, 'cluster link down');
    for (const h of this.handlers.linkDown) h(id, reason);
    this.redialer.linkedDown(id);
  }

  private refreshServerSecurity(server: Server): void {
    const next = this.options.security();
    const last = this.serverSecurity;
    if (last && sameSecurity(next, last)) return;
    server.setSecureContext(serverContextOptions(next));
    this.serverSecurity = next;
  }

  private accepted(socket: TLSSocket): void {
    const failure = verificationFailure(socket, this.serverSecurity!);
    if (failure) {
      this.refused(socket, failure, 'refused a cluster peer whose certificate is not trusted');
      return;
    }
    this.adopt(socket, 'in');
  }

  private refused(socket: TLSSocket, reason: string, message: string): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log.warn({ event: 'peer_refused', remote, ...certificateSubject(socket), reason }, message);
    socket.destroy();
  }

  private adopt(socket: TLSSocket, direction: 'in' | 'out'): PeerConnection {
    const conn = new PeerConnection(socket, direction, { self: this.hello, maxFrameBytes: this.maxFrameBytes, helloTimeoutMs: this.helloTimeoutMs, log: this.log }, this.connections);
    this.awaitingHello.add(conn);
    return conn;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /**
   * One connection attempt, resolved with the peer's hello. Rejects with
   * `unreachable` (only the low-level reason; retried), `peer-untrusted`,
   * `refused-by-peer` or `protocol`.
   */
  private connectOnce(endpoint: PeerEndpoint, timeoutMs: number): Promise<PeerHello> {
    if (this.closing) return Promise.reject(new TransportError('closed', 'the cluster transport is closed'));
    const where = formatEndpoint(endpoint);
    return new Promise((resolve, reject) => {
      const security = this.options.security();
      const from = this.options.dialFrom;
      const socket = connect({ ...clientOptions(security, endpoint.host, endpoint.port), ...(from ? { localAddress: from } : {}) });
      this.track(socket);
      let secured = false;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TransportError('unreachable', secured ? 'no hello in time' : 'ETIMEDOUT'));
      }, timeoutMs);
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = err.code ?? err.message;
        // An alert before the handshake ends: something that is not a cluster port of ours.
        reject(new TransportError(code.startsWith('ERR_SSL_') ? 'protocol' : 'unreachable', code));
      };
      socket.once('error', onError);
      socket.once('close', () => {
        if (secured) return;
        clearTimeout(timer);
        reject(new TransportError(this.closing ? 'closed' : 'unreachable', 'connection closed during the TLS handshake'));
      });
      socket.once('secureConnect', () => {
        secured = true;
        socket.off('error', onError);
        const failure = verificationFailure(socket, security);
        if (failure) {
          clearTimeout(timer);
          this.refused(socket, failure, 'refused a cluster peer whose certificate is not trusted');
          reject(new TransportError('peer-untrusted', `the certificate of ${where} is not trusted: ${failure}`));
          return;
        }
        const conn = this.adopt(socket, 'out');
        conn.outcome = {
          resolve: (hello) => {
            clearTimeout(timer);
            resolve(hello);
          },
          reject: (reason, by) => {
            clearTimeout(timer);
            // In TLS 1.3 the server checks our certificate after our side of the
            // handshake is done: its refusal arrives as an alert or a reset before its hello.
            if (by === 'remote') reject(new TransportError('refused-by-peer', `${where} does not trust this node's certificate (${reason})`));
            else reject(new TransportError('protocol', `${where}: ${reason}`));
          },
        };
      });
    });
  }
}

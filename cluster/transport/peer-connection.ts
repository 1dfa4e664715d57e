import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../src/observability/logger.js';
import { encodeFrame, encodeFrameHeader, FrameDecoder, FrameError } from './frame-codec.js';
import { encodeHello, MAX_HELLO_BYTES, parseHello } from './peer-hello.js';
import type { FrameKind, PeerHello, PeerId } from './transport.js';

/** Who ended a connection: the peer (end, reset, alert) or this side (a bad frame, a timeout, a duplicate). */
export type ClosedBy = 'remote' | 'local';

export interface ConnectionHandler {
  hello(conn: PeerConnection, hello: PeerHello): void;
  frame(conn: PeerConnection, kind: FrameKind, payload: Buffer): void;
  drain(conn: PeerConnection): void;
  /** The peer retired this connection: the transport stops writing to it before it is closed. */
  retired(conn: PeerConnection): void;
  closed(conn: PeerConnection, reason: string, by: ClosedBy): void;
}

export interface ConnectionOptions {
  self: PeerHello;
  maxFrameBytes: number;
  helloTimeoutMs: number;
  log: Logger;
}

/**
 * One TLS socket to a peer, trusted already (the transport checks the
 * certificate before it makes one): sends our hello first, reads the peer's,
 * then cuts the stream into frames. It knows nothing of links; the transport
 * decides which connection carries a peer's link.
 */
export class PeerConnection {
  /** The peer's hello, once read. */
  remote: PeerHello | undefined;
  /** "address:port" of the other end, for logs. */
  readonly address: string;
  /** The dial's promise, for a connection this side opened. */
  outcome: { resolve: (hello: PeerHello) => void; reject: (reason: string, by: ClosedBy) => void } | undefined;
  private readonly decoder: FrameDecoder;
  private log: Logger;
  private helloTimer: NodeJS.Timeout | undefined;
  private corked = false;
  private done = false;
  private retiring = false;

  constructor(
    readonly socket: TLSSocket,
    /** 'out': this side dialed it. */
    readonly direction: 'in' | 'out',
    private readonly options: ConnectionOptions,
    private readonly handler: ConnectionHandler,
  ) {
    this.address = `${socket.remoteAddress}:${socket.remotePort}`;
    this.log = options.log.child({ remote: this.address, direction });
    this.decoder = new FrameDecoder(Math.min(MAX_HELLO_BYTES, options.maxFrameBytes));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('drain', () => this.handler.drain(this));
    socket.on('error', (err: NodeJS.ErrnoException) => this.finish(err.code ?? err.message, 'remote'));
    // The peer ended its side (it closed, or retired this connection as a
    // duplicate): nothing more is written here, but what was written already
    // still leaves, since the socket ends (allowHalfOpen is false) rather than being destroyed.
    socket.on('end', () => this.finish('connection closed by peer', 'remote', false));
    socket.on('close', () => this.finish('connection closed by peer', 'remote'));
    this.helloTimer = setTimeout(() => {
      this.log.warn({ event: 'hello_timeout', timeoutMs: options.helloTimeoutMs }, 'closing a cluster connection: no hello in time');
      this.destroy('no hello in time');
    }, options.helloTimeoutMs);
    this.helloTimer.unref();
    socket.write(encodeFrame('hello', encodeHello(options.self)));
  }

  /** The id of the member that dialed this connection (known once the hello is read). */
  dialer(): PeerId | undefined {
    if (this.direction === 'out') return this.options.self.id;
    return this.remote?.id;
  }

  /** Bytes handed to the socket and not yet written to the network. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  get closed(): boolean {
    return this.done;
  }

  /** Writes one frame; frames written in one tick leave in one batch (cork until the next tick). */
  write(kind: FrameKind, payload: Uint8Array): void {
    if (this.done) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(encodeFrameHeader(kind, payload.byteLength));
    this.socket.write(payload);
  }

  /**
   * Stops using the connection, a duplicate or one replaced, without losing
   * what the peer wrote on it meanwhile: we tell the peer and keep reading;
   * the peer stops writing and closes it when it reads our `retire`.
   */
  retire(reason: string): void {
    if (this.done || this.retiring) return;
    this.retiring = true;
    this.log.debug({ event: 'connection_retired', reason }, 'retiring a cluster connection that another one replaces');
    this.socket.write(encodeFrame('retire', Buffer.alloc(0)));
    const timer = setTimeout(() => this.destroy('retired'), this.options.helloTimeoutMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(reason: string): void {
    this.socket.destroy();
    this.finish(reason, 'local');
  }

  private read(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) {
        if (this.done) return;
        if (frame.kind === 'hello') {
          if (this.remote) return this.refuse('a second hello');
          const hello = parseHello(frame.payload);
          if (typeof hello === 'string') return this.refuse(hello);
          this.remote = hello;
          clearTimeout(this.helloTimer);
          this.log = this.log.child({ peer: hello.id, peerName: hello.name });
          this.decoder.maxFrameBytes = this.options.maxFrameBytes;
          this.handler.hello(this, hello);
        } else if (!this.remote) {
          return this.refuse(`a ${frame.kind} frame before the hello`);
        } else if (frame.kind === 'retire') {
          this.handler.retired(this);
          this.retiring = true;
          this.socket.end();
        } else {
          this.handler.frame(this, frame.kind, frame.payload);
        }
      }
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.log.warn({ event: 'frame_rejected', reason: err.reason, detail: err.message }, 'closing a cluster link: malformed frame');
      this.destroy(`malformed frame: ${err.message}`);
    }
  }

  private refuse(reason: string): void {
    this.log.warn({ event: 'hello_rejected', reason }, 'closing a cluster link: bad hello');
    this.destroy(reason);
  }

  private finish(reason: string, by: ClosedBy, destroy = true): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.helloTimer);
    if (destroy && !this.socket.destroyed) this.socket.destroy();
    this.handler.closed(this, reason, by);
  }
}

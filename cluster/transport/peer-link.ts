import type { PeerConnection } from './peer-connection.js';
import type { FrameKind, PeerHello } from './transport.js';

interface QueuedFrame {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

/** A first-in first-out queue without Array.shift's copying, for floods of stanza frames. */
class FrameQueue {
  private items: QueuedFrame[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(frame: QueuedFrame): void {
    this.items.push(frame);
  }
  shift(): QueuedFrame | undefined {
    const frame = this.items[this.head];
    if (frame === undefined) return undefined;
    this.items[this.head++] = undefined as unknown as QueuedFrame;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }
}

/**
 * A peer's link: up from the first connection whose hellos are exchanged
 * until the last one closes. It outlives a change of connection (a duplicate
 * that wins the tie-break replaces the first one), so its queues live here.
 *
 * Raft and control frames go to the socket at once. Stanza frames wait here
 * and go to the socket only while it holds less than `stanzaMarkBytes`
 * unwritten, so a later Raft frame never waits behind more than that.
 */
export class PeerLink {
  /** The connection carrying the link; undefined while one closed and a replacement's hello is awaited. */
  conn: PeerConnection | undefined;
  private readonly held = new FrameQueue();
  private readonly stanzas = new FrameQueue();
  private stanzaBytes = 0;

  constructor(
    public hello: PeerHello,
    conn: PeerConnection,
    private readonly stanzaMarkBytes: number,
  ) {
    this.conn = conn;
  }

  get queuedStanzaBytes(): number {
    return this.stanzaBytes;
  }

  send(kind: FrameKind, payload: Uint8Array): void {
    if (kind === 'stanza') {
      this.stanzas.push({ kind, payload });
      this.stanzaBytes += payload.byteLength;
      this.pump();
    } else if (this.conn) this.conn.write(kind, payload);
    else this.held.push({ kind, payload });
  }

  /** Carries the link on another connection: frames held meanwhile go first, then queued stanzas. */
  attach(conn: PeerConnection, hello: PeerHello): void {
    this.conn = conn;
    this.hello = hello;
    for (let f = this.held.shift(); f; f = this.held.shift()) conn.write(f.kind, f.payload);
    this.pump();
  }

  /** Writes queued stanza frames while the socket is below the mark; called again on 'drain'. */
  pump(): void {
    const conn = this.conn;
    if (!conn) return;
    // Below the socket's own high-water mark a write never asks for 'drain', so the mark is never lower.
    const mark = Math.max(this.stanzaMarkBytes, conn.socket.writableHighWaterMark);
    while (this.stanzas.length > 0 && conn.writableLength < mark) {
      const f = this.stanzas.shift()!;
      this.stanzaBytes -= f.payload.byteLength;
      conn.write(f.kind, f.payload);
    }
  }
}

import type { Socket } from 'node:net';
import { StreamError, type StreamErrorCondition } from './errors.js';
import { StreamParser, type StreamHandler } from './stream-parser.js';
import { STREAM_FOOTER, streamErrorElement } from './stanza.js';

/**
 * One XML stream over one socket: decoding, framing, batched writes and the
 * RFC 6120 §4.9 way of ending a stream. It knows nothing of what the stream
 * carries; a session (component, server-to-server) drives it.
 */

export interface XmppStreamHandler {
  streamStart(name: string, attrs: Record<string, string>): void;
  /** `children`: how many elements the stanza directly contains. */
  element(name: string, attrs: Record<string, string>, raw: string, children: number): void;
  /** The peer closed the stream, or the socket ended or failed. Called once. */
  closed(reason: CloseReason): void;
  /** The socket's send buffer drained (the stream reads again if nothing else holds it). */
  drained?(): void;
}

export type CloseReason =
  | { by: 'peer' }
  | { by: 'us'; error?: StreamError }
  | { by: 'socket'; message: string };

export interface XmppStreamOptions {
  maxStanzaSize: number;
  /** Deepest element nesting in a stanza (the stanza is level 1); StreamParser's default if unset. */
  maxDepth?: number;
  /** Most attributes on one element; StreamParser's default if unset. */
  maxAttributes?: number;
  /**
   * The header this side sends if it must report an error before it opened
   * its half of the stream (RFC 6120 §4.9.1.2).
   */
  errorHeader: () => string;
  /** How long to wait for the peer's `</stream:stream>` after ours. */
  closeGraceMs?: number;
}

/** Above this many unsent bytes a stream counts as congested. */
export const SEND_HIGH_WATER = 1024 * 1024;

/** The hold a stream puts on itself while its own send queue is over the mark. */
const OWN_BACKLOG = Object.freeze({ reason: 'own send queue over its high-water mark' });

export class XmppStream implements StreamHandler {
  private readonly parser: StreamParser;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private pending: string[] = [];
  private pendingChars = 0;
  private flushScheduled = false;
  private headerSent = false;
  private closing = false;
  private finished = false;
  /** fail(error, readOnMs): our half is closed, and the peer's stanzas are still read until it closes its half. */
  private readingOn: CloseReason | undefined;
  /** detach() handed the socket on: nothing more of it is ours to read or report. */
  private detached = false;
  private deadline: NodeJS.Timeout | undefined;
  /** Why the socket is not read now; it is read again when none is left. */
  private readonly holds = new Set<object>();
  /** send() reported the queue over its mark, and `drained` has not been told since. */
  private congested = false;
  readonly remoteAddress: string;
  readonly remotePort: number;
  bytesIn = 0;

  constructor(
    readonly socket: Socket,
    private readonly handler: XmppStreamHandler,
    private readonly options: XmppStreamOptions,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? 'unknown');
    this.remotePort = socket.remotePort ?? 0;
    this.parser = new StreamParser(this, { maxElementSize: options.maxStanzaSize, maxDepth: options.maxDepth, maxAttributes: options.maxAttributes });
    socket.setNoDelay(true);
    socket.on('data', this.listeners.data);
    socket.on('end', this.listeners.end);
    socket.on('close', this.listeners.close);
    socket.on('error', this.listeners.error);
    socket.on('drain', this.listeners.drain);
  }

  /** Kept by name so that detach() removes exactly these and no one else's. */
  private readonly listeners = {
    data: (chunk: Buffer) => this.onData(chunk),
    end: () => this.finish(this.readingOn ?? { by: 'socket', message: 'the peer closed the connection' }),
    close: () => this.finish(this.readingOn ?? { by: 'socket', message: 'connection closed' }),
    error: (err: Error) => this.finish(this.readingOn ?? { by: 'socket', message: err.message }),
    drain: () => this.onDrain(),
  };

  /**
   * Hands the socket over without closing it, for what RFC 6120 calls a
   * stream restart: after STARTTLS's `<proceed/>` (§5.4.3.3, the TLS layer
   * takes the socket) and after SASL `<success/>` (§6.4.6, a new stream on
   * the same socket). Text already queued is written first, so `<proceed/>`
   * and `<success/>` reach the peer before anything of the new layer; the
   * rest of the read being parsed is dropped (§5.4.3.3: after `<proceed/>`
   * nothing but TLS may follow, and the peer waits for our new header).
   * The handler is not told `closed`: the connection goes on under a new
   * owner.
   */
  detach(): Socket {
    if (this.finished) throw new Error('the stream has ended; there is no socket to hand over');
    this.flush();
    this.detached = true;
    this.finished = true;
    this.clearDeadline();
    const socket = this.socket;
    socket.off('data', this.listeners.data);
    socket.off('end', this.listeners.end);
    socket.off('close', this.listeners.close);
    socket.off('error', this.listeners.error);
    socket.off('drain', this.listeners.drain);
    return socket;
  }

  get isOpen(): boolean {
    return !this.closing && !this.finished;
  }

  /** Unsent bytes queued in the socket. */
  get backlog(): number {
    return this.socket.writableLength;
  }

  /** Sends our stream header; later errors then need no header of their own. */
  open(header: string): void {
    this.headerSent = true;
    this.send(header);
  }

  /**
   * Queues text for the peer. Everything queued while one socket read is
   * processed goes out in one write: a read of 500 stanzas costs one syscall.
   *
   * Returns false when the unsent text is over SEND_HIGH_WATER. The stream
   * then stops reading its peer until the socket drains: a peer that sends
   * requests and never reads their answers cannot make us queue without end.
   */
  send(text: string): boolean {
    if (this.closing || this.finished) return true;
    this.pending.push(text);
    this.pendingChars += text.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    if (this.socket.writableLength + this.pendingChars < SEND_HIGH_WATER) return true;
    this.congested = true;
    this.hold(OWN_BACKLOG);
    return false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    if (pending.length === 0 || this.socket.destroyed) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    // Node emits 'drain' only after a write that returned false. A write the
    // kernel took at once owes none, so a stream that reported congestion for
    // text still pending must say itself that it drained, or it stays held.
    if (this.socket.write(text) && this.congested) this.onDrain();
  }

  private onDrain(): void {
    this.congested = false;
    this.release(OWN_BACKLOG);
    this.handler.drained?.();
  }

  /**
   * Ends the stream with an error: header if none was sent, the error, the
   * footer, then the socket (RFC 6120 §4.9). With `readOnMs` the peer's
   * stanzas are still read and handed on until it closes its half, at most
   * that long: RFC 6120 §4.4 gives the other party "an opportunity to finish
   * transmitting any outbound data" — a call bridge told <system-shutdown/>
   * may have stanzas on the wire already, and they are routed, not dropped.
   */
  fail(error: StreamError, readOnMs?: number): void {
    if (this.closing || this.finished) return;
    let text = this.headerSent ? '' : this.options.errorHeader();
    this.headerSent = true;
    text += streamErrorElement(error) + STREAM_FOOTER;
    this.send(text);
    if (readOnMs !== undefined) this.readingOn = { by: 'us', error };
    this.closeSocketAfterFlush({ by: 'us', error }, readOnMs);
  }

  /** Ends the stream cleanly. */
  close(): void {
    if (this.closing || this.finished) return;
    this.send((this.headerSent ? '' : this.options.errorHeader()) + STREAM_FOOTER);
    this.closeSocketAfterFlush({ by: 'us' });
  }

  /** Ends the stream with `condition` unless `clearDeadline` or another deadline comes first. */
  setDeadline(ms: number, condition: StreamErrorCondition, text: string): void {
    this.clearDeadline();
    this.deadline = setTimeout(() => this.fail(new StreamError(condition, text)), ms);
  }

  clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
  }

  /** Stops reading for good: the stream is about to end. */
  pause(): void {
    this.socket.pause();
  }

  /**
   * Stops reading the peer for `reason` until `release(reason)`. Holds
   * compose: waiting for a congested route and a full own queue are two
   * reasons, and reading resumes when both are gone.
   */
  hold(reason: object): void {
    if (!this.reading) return;
    this.holds.add(reason);
    this.socket.pause();
  }

  release(reason: object): void {
    if (!this.holds.delete(reason) || this.holds.size > 0) return;
    if (this.reading) this.socket.resume();
  }

  /** Stanzas of the peer are still read: open, or reading on after fail(error, readOnMs). */
  private get reading(): boolean {
    return !this.finished && (!this.closing || this.readingOn !== undefined);
  }

  /** True while some hold keeps the stream from reading its peer. */
  get held(): boolean {
    return this.holds.size > 0;
  }

  // StreamHandler, called by the parser.
  streamStart(name: string, attrs: Record<string, string>): void {
    if (!this.detached) this.handler.streamStart(name, attrs);
  }

  element(name: string, attrs: Record<string, string>, raw: string, children: number): void {
    if (this.reading && !this.detached) this.handler.element(name, attrs, raw, children);
  }

  streamEnd(): void {
    if (this.detached) return;
    // Reading on after our error: the peer's footer is the last of its data.
    if (this.readingOn) return this.finish(this.readingOn);
    // The peer closed its half; close ours and let the socket go (RFC 6120 §4.4).
    if (!this.closing) {
      this.send((this.headerSent ? '' : this.options.errorHeader()) + STREAM_FOOTER);
      this.closeSocketAfterFlush({ by: 'peer' });
    }
  }

  streamError(error: StreamError): void {
    if (this.detached) return;
    if (this.readingOn) return this.finish(this.readingOn);
    this.fail(error);
  }

  private onData(chunk: Buffer): void {
    if (!this.reading || this.detached) return;
    this.bytesIn += chunk.length;
    let text: string;
    try {
      text = this.decoder.decode(chunk, { stream: true });
    } catch {
      // RFC 6120 §4.9.3.22: a stream that violates UTF-8.
      this.fail(new StreamError('unsupported-encoding', 'the stream is not valid UTF-8'));
      return;
    }
    this.parser.write(text);
  }

  private closeSocketAfterFlush(reason: CloseReason, readOnMs?: number): void {
    this.closing = true;
    this.clearDeadline();
    // Keep reading (discarding, unless reading on) so that the peer's own
    // close reaches us and the socket ends now rather than at the grace timeout.
    if (this.holds.size === 0 || readOnMs === undefined) this.socket.resume();
    queueMicrotask(() => {
      this.flush();
      this.socket.end();
      // A peer that never closes its side must not hold the socket forever.
      const grace = setTimeout(() => {
        this.socket.destroy();
        this.finish(reason);
      }, readOnMs ?? this.options.closeGraceMs ?? 2000);
      grace.unref();
    });
    if (readOnMs === undefined) this.finish(reason);
  }

  private finish(reason: CloseReason): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    if (reason.by === 'socket' || this.readingOn) this.socket.destroy();
    this.handler.closed(reason);
  }
}

/** IPv4 peers on a dual-stack socket show as ::ffff:a.b.c.d; operators expect a.b.c.d. */
export function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

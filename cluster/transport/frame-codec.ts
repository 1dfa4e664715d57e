import { DEFAULT_MAX_FRAME_BYTES, type FrameKind } from './transport.js';

/**
 * Frames on a cluster link: a 4-byte big-endian length of what follows, one
 * kind byte, then the payload. The first frame each way is the hello (JSON of
 * PeerHello); Raft, control and stanza frames follow. `retire` (empty) says
 * the sender keeps another connection to us: write nothing more here, close it.
 */
export type WireKind = 'hello' | FrameKind | 'retire';

const KIND_BYTES: Record<WireKind, number> = { hello: 0, raft: 1, control: 2, stanza: 3, retire: 4 };
const KINDS: readonly WireKind[] = ['hello', 'raft', 'control', 'stanza', 'retire'];

/** Length prefix plus kind byte. */
export const FRAME_HEADER_BYTES = 5;

export interface DecodedFrame {
  readonly kind: WireKind;
  /** A view into the socket's chunk when the frame lay in one chunk; a copy only when it spanned chunks. */
  readonly payload: Buffer;
}

export type FrameErrorReason = 'oversized' | 'unknown-kind' | 'empty';

/** A frame that cannot be read: the link it came on is closed, the others are not. */
export class FrameError extends Error {
  constructor(
    readonly reason: FrameErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

/** The 5 bytes in front of a payload, so the payload itself is written without a copy. */
export function encodeFrameHeader(kind: WireKind, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payloadBytes + 1, 0);
  header[4] = KIND_BYTES[kind];
  return header;
}

/** A whole frame in one buffer (hello frames, tests). */
export function encodeFrame(kind: WireKind, payload: Uint8Array): Buffer {
  return Buffer.concat([encodeFrameHeader(kind, payload.byteLength), payload]);
}

/**
 * Cuts a byte stream into frames. Chunks may split a frame anywhere or hold
 * several; a frame inside one chunk is returned as a view of it, and bytes are
 * copied only when a header or payload spans chunks. The size limit is checked
 * on the header, before any of an oversized payload is buffered.
 */
export class FrameDecoder {
  /** The largest payload accepted; may be raised once the peer is known (hellos are small). */
  maxFrameBytes: number;
  private readonly chunks: Buffer[] = [];
  /** Bytes of chunks[0] already consumed. */
  private offset = 0;
  private buffered = 0;
  /** The frame whose header is read and whose payload is awaited. */
  private pending: { kind: WireKind; bytes: number } | undefined;
  private failed: FrameError | undefined;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for a frame not yet complete. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Yields every frame the chunk completes, in order; throws a FrameError at
   * the first bad header, after the good frames before it. A decoder that
   * threw stays failed: the stream after a bad header has no frame boundaries.
   */
  *push(chunk: Buffer): Generator<DecodedFrame> {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (!this.pending) {
        if (this.buffered < FRAME_HEADER_BYTES) return;
        this.pending = this.readHeader(this.take(FRAME_HEADER_BYTES));
      }
      if (this.buffered < this.pending.bytes) return;
      const { kind, bytes } = this.pending;
      this.pending = undefined;
      yield { kind, payload: this.take(bytes) };
    }
  }

  private readHeader(header: Buffer): { kind: WireKind; bytes: number } {
    const length = header.readUInt32BE(0);
    if (length === 0) return this.fail('empty', 'a frame of length 0 (no kind byte)');
    const bytes = length - 1;
    if (bytes > this.maxFrameBytes) return this.fail('oversized', `a frame of ${bytes} bytes, more than the ${this.maxFrameBytes} allowed`);
    const kind = KINDS[header[4]!];
    if (!kind) return this.fail('unknown-kind', `a frame of unknown kind ${header[4]}`);
    return { kind, bytes };
  }

  private fail(reason: FrameErrorReason, message: string): never {
    this.failed = new FrameError(reason, message);
    this.chunks.length = 0;
    this.buffered = 0;
    throw this.failed;
  }

  /** Removes n buffered bytes (n <= buffered): a view when they lie in the first chunk, else one copy. */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0 || !first) return Buffer.alloc(0);
    if (first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n);
      this.offset += n;
      if (this.offset === first.length) this.dropFirst();
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const count = Math.min(head.length - this.offset, n - filled);
      head.copy(out, filled, this.offset, this.offset + count);
      filled += count;
      this.offset += count;
      if (this.offset === head.length) this.dropFirst();
    }
    return out;
  }

  private dropFirst(): void {
    this.chunks.shift();
    this.offset = 0;
  }
}

/**
 * One batch frame being written in place: BATCH_TAG, then each message as a
 * u32 byte length and its bytes (routing-messages.ts reads it). A message is
 * encoded straight into the frame: its writer is given room for the most it
 * can take, then says how long it came out. The buffer grows by doubling and
 * is handed over whole by `take`, never reused: the socket may still hold it.
 */
export class BatchBuilder {
  private buffer: Buffer | undefined;
  private end = 1;
  private messages = 0;

  constructor(
    private readonly tag: number,
    private readonly initialBytes = 16 * 1024,
  ) {}

  get count(): number {
    return this.messages;
  }

  /** The frame's length so far. */
  get bytes(): number {
    return this.messages === 0 ? 0 : this.end;
  }

  /** Room for one message of at most `max` bytes: returns the buffer and leaves `offset` where it starts. */
  reserve(max: number): Buffer {
    const need = this.end + 4 + max;
    let buffer = this.buffer;
    if (buffer === undefined || buffer.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, buffer === undefined ? this.initialBytes : 2 * buffer.length));
      if (buffer !== undefined) buffer.copy(grown, 0, 0, this.end);
      else grown[0] = this.tag;
      this.buffer = buffer = grown;
    }
    return buffer;
  }

  /** Where the reserved message starts. */
  get offset(): number {
    return this.end + 4;
  }

  /** The message written at `offset` is `bytes` long. */
  commit(bytes: number): void {
    const b = this.buffer!;
    const at = this.end;
    b[at] = bytes >>> 24;
    b[at + 1] = bytes >>> 16;
    b[at + 2] = bytes >>> 8;
    b[at + 3] = bytes;
    this.end = at + 4 + bytes;
    this.messages++;
  }

  /** Appends a message encoded elsewhere. */
  append(encoded: Uint8Array): void {
    this.reserve(encoded.byteLength).set(encoded, this.offset);
    this.commit(encoded.byteLength);
  }

  /** The frame, and the builder empty again. */
  take(): Buffer {
    const frame = this.buffer!.subarray(0, this.end);
    this.buffer = undefined;
    this.end = 1;
    this.messages = 0;
    return frame;
  }
}

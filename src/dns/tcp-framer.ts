/**
 * Splits a DNS-over-TCP byte stream into messages: each is preceded by its
 * length in two bytes (RFC 1035 §4.2.2, RFC 7766 §8). A message may arrive
 * split across chunks and several may share one. A length prefix cannot
 * exceed 65535, so at most one message plus a prefix is ever held.
 */

export interface Frames {
  readonly messages: Buffer[];
  /** A zero-length message: nothing a DNS client sends; the connection is closed. */
  readonly malformed: boolean;
}

const EMPTY = Buffer.alloc(0);

export class TcpFramer {
  private pending: Buffer = EMPTY;

  push(chunk: Buffer): Frames {
    const buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const messages: Buffer[] = [];
    let offset = 0;
    while (buf.length - offset >= 2) {
      const length = buf.readUInt16BE(offset);
      if (length === 0) {
        this.pending = EMPTY;
        return { messages, malformed: true };
      }
      if (buf.length - offset - 2 < length) break;
      messages.push(buf.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    // A copy, so a large chunk is not kept alive by its few trailing bytes.
    this.pending = offset < buf.length ? Buffer.from(buf.subarray(offset)) : EMPTY;
    return { messages, malformed: false };
  }
}

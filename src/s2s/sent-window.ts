import type { OutboundQueueLimits, QueuedStanza } from './outbound-queue.js';

/**
 * What was written on an outgoing stream since the peer last proved it read
 * it. Server streams have no acknowledgements (RFC 6120 has none; XEP-0198
 * is not negotiated between servers here), so a stanza written just before
 * the peer went silent may sit unread in a dead socket. The only proof of
 * reading is the answer to an XEP-0199 ping sent AFTER the stanza: the peer
 * handles a stream's stanzas in order (RFC 6120 §10.1), so its pong means
 * everything before the ping was read. Each ping carries a mark (the number
 * of the last stanza written before it); its pong confirms up to that mark.
 *
 * When the stream is declared dead (or ends by the peer or the socket) what
 * is still here is re-sent on a new stream or bounced: never dropped
 * silently. The copy is bounded like the queue: the route writes nothing
 * more while it is full, until a checkpoint's answer confirms some (it asks
 * for one at half the bound, so a live peer rarely makes anything wait).
 * Should one go past the bound anyway, the oldest entry leaves as presumed
 * delivered, and is counted.
 */
export class SentWindow {
  private entries: Array<{ readonly seq: number; readonly stanza: QueuedStanza; readonly bytes: number }> = [];
  private byteCount = 0;
  private lastSeq = 0;
  /** Oldest entries that left past the bound, presumed delivered. */
  presumedDelivered = 0;

  constructor(private readonly limits: OutboundQueueLimits) {}

  get size(): number {
    return this.entries.length;
  }

  /** At its bound: the route writes no more until a checkpoint's answer confirms some (remote-route.ts). */
  get full(): boolean {
    return this.entries.length >= this.limits.maxStanzas || this.byteCount >= this.limits.maxBytes;
  }

  /** Records a stanza just written. */
  push(stanza: QueuedStanza): void {
    const bytes = Buffer.byteLength(stanza.raw, 'utf8');
    this.entries.push({ seq: ++this.lastSeq, stanza, bytes });
    this.byteCount += bytes;
    let drop = 0;
    while (this.entries.length - drop > this.limits.maxStanzas || (this.byteCount > this.limits.maxBytes && this.entries.length - drop > 1)) {
      this.byteCount -= this.entries[drop]!.bytes;
      drop++;
    }
    if (drop > 0) {
      this.entries.splice(0, drop);
      this.presumedDelivered += drop;
    }
  }

  /** The mark a ping written now carries. */
  mark(): number {
    return this.lastSeq;
  }

  /** The pong for a ping with `mark` arrived: everything written before that ping was read. */
  confirm(mark: number): void {
    let n = 0;
    while (n < this.entries.length && this.entries[n]!.seq <= mark) {
      this.byteCount -= this.entries[n]!.bytes;
      n++;
    }
    if (n > 0) this.entries.splice(0, n);
  }

  /** What a ping with `mark` would confirm, still here (the window is unchanged). */
  upTo(mark: number): QueuedStanza[] {
    return this.entries.filter((e) => e.seq <= mark).map((e) => e.stanza);
  }

  /** Over half the bound with no ping out: time to ask the peer for a checkpoint. */
  wantsCheckpoint(): boolean {
    return this.entries.length * 2 >= this.limits.maxStanzas || this.byteCount * 2 >= this.limits.maxBytes;
  }

  /** Everything unconfirmed, oldest first; the window is empty after. */
  takeAll(): QueuedStanza[] {
    const out = this.entries.map((e) => e.stanza);
    this.entries = [];
    this.byteCount = 0;
    return out;
  }
}

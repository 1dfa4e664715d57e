import type { Logger } from '../../src/observability/logger.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { encodeBatch, encodeRoutingMessage, type RoutingMessage } from './routing-messages.js';

/** A batch goes before it grows past this: a frame stays small beside the link's 64 KiB stanza mark. */
export const MAX_BATCH_BYTES = 64 * 1024;

interface Batch {
  /** Something is gathered. */
  pending: boolean;
  /** `fwd` and `dlv` messages of this turn, encoded, in the order sent. */
  messages: Uint8Array[];
  bytes: number;
  /** Confirmations for an origin, by its epoch. */
  acks: Map<string, number[]>;
  /** The latest delivery processed for the leader (cumulative). */
  dack: { gen: number; dseq: number } | undefined;
}

/**
 * The router's messages to each peer, as `stanza` frames. Within one turn of
 * the event loop, a peer's stanza messages (`fwd`, `dlv`) and confirmations
 * (`ack`, `dack`, one per origin epoch however many stanzas) are gathered and
 * leave as one frame when the turn ends; a peer whose hello does not list
 * batches (an older release) gets the same messages one frame each. Anything
 * else (a report, a detach) first sends what is gathered for that peer: a
 * holder's "processed up to" must reach the leader before the detach or
 * report that follows it, or the leader would deliver a written stanza again.
 */
export class PeerOutbox {
  /** One per peer, kept and emptied rather than deleted: see releasing-map.ts for what churn in a Map costs. */
  private readonly batches = new Map<PeerId, Batch>();
  /** Peers that read batch frames, from their hellos. */
  private readonly batching = new Set<PeerId>();
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {}

  /** Whether `peer` reads batch frames; set at each link up, from its hello. */
  setBatching(peer: PeerId, on: boolean): void {
    if (on) this.batching.add(peer);
    else this.batching.delete(peer);
  }

  ack(peer: PeerId, epoch: string, seq: number): void {
    const batch = this.batch(peer);
    const seqs = batch.acks.get(epoch);
    if (seqs === undefined) batch.acks.set(epoch, [seq]);
    else seqs.push(seq);
  }

  dack(peer: PeerId, gen: number, dseq: number): void {
    this.batch(peer).dack = { gen, dseq };
  }

  /**
   * Sends one message: a `fwd` or `dlv` at the end of this turn, with the
   * others gathered for the peer; anything else now, after them. False when
   * no link to the peer is up for a message sent now; a gathered one that
   * finds no link is recovered as any message lost with a link.
   */
  send(peer: PeerId, message: RoutingMessage): boolean {
    if ((message.t === 'fwd' || message.t === 'dlv') && this.batching.has(peer) && !this.closed) {
      this.add(peer, this.batch(peer), encodeRoutingMessage(message));
      return true;
    }
    this.flush(peer);
    return this.raw(peer, encodeRoutingMessage(message), message.t);
  }

  /** Drops what is batched and sends nothing more. */
  close(): void {
    this.closed = true;
    this.batches.clear();
  }

  private batch(peer: PeerId): Batch {
    let batch = this.batches.get(peer);
    if (batch === undefined) {
      batch = { pending: false, messages: [], bytes: 0, acks: new Map(), dack: undefined };
      this.batches.set(peer, batch);
    }
    batch.pending = true;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushAll());
    }
    return batch;
  }

  /** Sends what every peer has gathered now (also once per turn of the event loop by itself). */
  flushAll(): void {
    this.scheduled = false;
    for (const peer of this.batches.keys()) this.flush(peer);
  }

  private flush(peer: PeerId): void {
    const batch = this.batches.get(peer);
    if (batch === undefined || !batch.pending) return;
    batch.pending = false;
    const { dack, acks } = batch;
    batch.dack = undefined;
    if (acks.size > 0) batch.acks = new Map();
    // A lost confirmation is recovered: the origin resends when a link comes
    // up again, and the leader re-delivers after the holder's next report.
    if (dack !== undefined) this.gather(peer, batch, { t: 'dack', ...dack });
    for (const [epoch, seqs] of acks) this.gather(peer, batch, { t: 'ack', epoch, seqs });
    this.sendMessages(peer, batch);
  }

  /** Adds a confirmation to the batch, or sends it alone to a peer without batches. */
  private gather(peer: PeerId, batch: Batch, message: RoutingMessage): void {
    const encoded = encodeRoutingMessage(message);
    if (!this.batching.has(peer)) return void this.raw(peer, encoded, message.t);
    this.add(peer, batch, encoded);
  }

  /** Appends one encoded message, sending the batch first if it would grow past MAX_BATCH_BYTES. */
  private add(peer: PeerId, batch: Batch, encoded: Uint8Array): void {
    if (batch.bytes + encoded.byteLength > MAX_BATCH_BYTES && batch.messages.length > 0) this.sendMessages(peer, batch);
    batch.messages.push(encoded);
    batch.bytes += encoded.byteLength;
  }

  /** The batch's messages as one frame (a lone message as itself), and the batch emptied. */
  private sendMessages(peer: PeerId, batch: Batch): void {
    const { messages, bytes } = batch;
    if (messages.length === 0) return;
    batch.messages = [];
    batch.bytes = 0;
    this.raw(peer, messages.length === 1 ? messages[0]! : encodeBatch(messages, bytes), messages.length === 1 ? 'one' : 'batch');
  }

  private raw(peer: PeerId, payload: Uint8Array, type: string): boolean {
    if (this.closed) return false;
    const sent = this.transport.send(peer, 'stanza', payload);
    if (!sent) this.log.debug({ event: 'cluster_route_unsent', peer, type }, 'no link to the peer; the message is recovered later');
    return sent;
  }
}

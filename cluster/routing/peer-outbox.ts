import type { Logger } from '../../src/observability/logger.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { encodeRoutingMessage, type RoutingMessage } from './routing-messages.js';

interface Batch {
  /** Confirmations for an origin, by its epoch. */
  acks: Map<string, number[]>;
  /** The latest delivery processed for the leader (cumulative). */
  dack: { gen: number; dseq: number } | undefined;
}

/**
 * The router's messages to each peer, as `stanza` frames. Confirmations are
 * batched per peer and sent once per turn of the event loop (one frame for a
 * burst, not one per stanza), and always before any other message to the same
 * peer: a holder's "processed up to" must reach the leader before the detach
 * or report that follows it, or the leader would deliver a written stanza again.
 */
export class PeerOutbox {
  private readonly batches = new Map<PeerId, Batch>();
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {}

  ack(peer: PeerId, epoch: string, seq: number): void {
    const batch = this.batch(peer);
    const seqs = batch.acks.get(epoch);
    if (seqs === undefined) batch.acks.set(epoch, [seq]);
    else seqs.push(seq);
  }

  dack(peer: PeerId, gen: number, dseq: number): void {
    this.batch(peer).dack = { gen, dseq };
  }

  /** Sends one message after the peer's batched confirmations; false when no link to it is up. */
  send(peer: PeerId, message: RoutingMessage): boolean {
    this.flush(peer);
    return this.raw(peer, message);
  }

  /** Drops what is batched and sends nothing more. */
  close(): void {
    this.closed = true;
    this.batches.clear();
  }

  private batch(peer: PeerId): Batch {
    let batch = this.batches.get(peer);
    if (batch === undefined) {
      batch = { acks: new Map(), dack: undefined };
      this.batches.set(peer, batch);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushAll());
    }
    return batch;
  }

  /** Sends every peer's batched confirmations now (also once per turn of the event loop by itself). */
  flushAll(): void {
    this.scheduled = false;
    for (const peer of [...this.batches.keys()]) this.flush(peer);
  }

  private flush(peer: PeerId): void {
    const batch = this.batches.get(peer);
    if (batch === undefined) return;
    this.batches.delete(peer);
    // A lost confirmation is recovered: the origin resends when a link comes
    // up again, and the leader re-delivers after the holder's next report.
    if (batch.dack !== undefined) this.raw(peer, { t: 'dack', ...batch.dack });
    for (const [epoch, seqs] of batch.acks) this.raw(peer, { t: 'ack', epoch, seqs });
  }

  private raw(peer: PeerId, message: RoutingMessage): boolean {
    if (this.closed) return false;
    const sent = this.transport.send(peer, 'stanza', encodeRoutingMessage(message));
    if (!sent) this.log.debug({ event: 'cluster_route_unsent', peer, type: message.t }, 'no link to the peer; the message is recovered later');
    return sent;
  }
}

import type { Logger } from '../../src/observability/logger.js';
import type { PeerId, Transport } from '../transport/transport.js';
import { BatchBuilder } from './batch-builder.js';
import { dlvMaxBytes, leanFwdMaxBytes, writeDlv, writeLeanFwd } from './binary-messages.js';
import { BATCH_TAG, encodeRoutingMessage, ROUTING_BATCHES, ROUTING_LEAN, type RoutingMessage } from './routing-messages.js';

/** A batch goes before it grows past this: a frame stays small beside the link's 64 KiB stanza mark. */
export const MAX_BATCH_BYTES = 64 * 1024;

interface Batch {
  /** Something is gathered. */
  pending: boolean;
  /** `fwd` and `dlv` messages of this turn, encoded in place, in the order sent. */
  frame: BatchBuilder;
  /** Confirmations for an origin, by its epoch. */
  acks: Map<string, number[]>;
  /** The latest delivery processed for the leader (cumulative); dseq 0 for none. */
  dackGen: number;
  dackSeq: number;
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
  /** Peers that read batch frames, and lean fwd messages, from their hellos. */
  private readonly batching = new Set<PeerId>();
  private readonly lean = new Set<PeerId>();
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {}

  /** What `peer` reads beyond the first release's messages; set at each link up, from its hello. */
  setFeatures(peer: PeerId, features: readonly string[]): void {
    setMember(this.batching, peer, features.includes(ROUTING_BATCHES));
    setMember(this.lean, peer, features.includes(ROUTING_LEAN));
  }

  ack(peer: PeerId, epoch: string, seq: number): void {
    const batch = this.batch(peer);
    const seqs = batch.acks.get(epoch);
    if (seqs === undefined) batch.acks.set(epoch, [seq]);
    else seqs.push(seq);
  }

  dack(peer: PeerId, gen: number, dseq: number): void {
    const batch = this.batch(peer);
    batch.dackGen = gen;
    batch.dackSeq = dseq;
  }

  /**
   * Sends one message: a `fwd` or `dlv` at the end of this turn, with the
   * others gathered for the peer; anything else now, after them. False when
   * no link to the peer is up for a message sent now; a gathered one that
   * finds no link is recovered as any message lost with a link.
   */
  send(peer: PeerId, message: RoutingMessage): boolean {
    if ((message.t === 'fwd' || message.t === 'dlv') && this.batching.has(peer) && !this.closed) {
      this.write(peer, this.batch(peer), message);
      return true;
    }
    this.flush(peer);
    return this.raw(peer, encodeRoutingMessage(message, this.lean.has(peer)), message.t);
  }

  /** Drops what is batched and sends nothing more. */
  close(): void {
    this.closed = true;
    this.batches.clear();
  }

  private batch(peer: PeerId): Batch {
    let batch = this.batches.get(peer);
    if (batch === undefined) {
      batch = { pending: false, frame: new BatchBuilder(BATCH_TAG), acks: new Map(), dackGen: 0, dackSeq: 0 };
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
    const { dackGen, dackSeq, acks } = batch;
    batch.dackSeq = 0;
    if (acks.size > 0) batch.acks = new Map();
    // A lost confirmation is recovered: the origin resends when a link comes
    // up again, and the leader re-delivers after the holder's next report.
    if (dackSeq > 0) this.gather(peer, batch, { t: 'dack', gen: dackGen, dseq: dackSeq });
    for (const [epoch, seqs] of acks) this.gather(peer, batch, { t: 'ack', epoch, seqs });
    this.sendMessages(peer, batch);
  }

  /** Adds a confirmation to the batch, or sends it alone to a peer without batches. */
  private gather(peer: PeerId, batch: Batch, message: RoutingMessage): void {
    const encoded = encodeRoutingMessage(message);
    if (!this.batching.has(peer)) return void this.raw(peer, encoded, message.t);
    this.add(peer, batch, encoded);
  }

  /** Encodes a `dlv` or lean `fwd` straight into the batch; a full `fwd` is encoded first, then copied in. */
  private write(peer: PeerId, batch: Batch, m: Extract<RoutingMessage, { t: 'fwd' | 'dlv' }>): void {
    if (m.t === 'fwd' && (m.headOnly !== true || !this.lean.has(peer))) return this.add(peer, batch, encodeRoutingMessage(m));
    const max = m.t === 'dlv' ? dlvMaxBytes(m.origin, m.epoch, m.to, m.raw) : leanFwdMaxBytes(m.epoch, m.stanza);
    this.makeRoom(peer, batch, max);
    const { frame } = batch;
    const out = frame.reserve(max);
    const at = frame.offset;
    frame.commit(m.t === 'dlv' ? writeDlv(out, at, m.gen, m.dseq, m.origin, m.epoch, m.seq, m.to, m.sid, m.raw) : writeLeanFwd(out, at, m.epoch, m.seq, m.stanza));
  }

  /** Appends one encoded message. */
  private add(peer: PeerId, batch: Batch, encoded: Uint8Array): void {
    this.makeRoom(peer, batch, encoded.byteLength);
    batch.frame.append(encoded);
  }

  /** Sends the batch first if a message of `max` bytes would grow it past MAX_BATCH_BYTES. */
  private makeRoom(peer: PeerId, batch: Batch, max: number): void {
    if (batch.frame.count > 0 && batch.frame.bytes + 4 + max > MAX_BATCH_BYTES) this.sendMessages(peer, batch);
  }

  /** The batch's messages as one frame (a lone message as itself), and the batch emptied. */
  private sendMessages(peer: PeerId, batch: Batch): void {
    const { frame } = batch;
    if (frame.count === 0) return;
    const one = frame.count === 1;
    const payload = frame.take();
    // A lone message leaves as itself: after the tag and its length.
    this.raw(peer, one ? payload.subarray(5) : payload, one ? 'one' : 'batch');
  }

  private raw(peer: PeerId, payload: Uint8Array, type: string): boolean {
    if (this.closed) return false;
    const sent = this.transport.send(peer, 'stanza', payload);
    if (!sent) this.log.debug({ event: 'cluster_route_unsent', peer, type }, 'no link to the peer; the message is recovered later');
    return sent;
  }
}

function setMember<T>(set: Set<T>, value: T, on: boolean): void {
  if (on) set.add(value);
  else set.delete(value);
}

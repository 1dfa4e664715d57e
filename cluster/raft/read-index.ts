/**
 * ReadIndex (§6.4 of the Raft dissertation): a leader answers a linearizable
 * read by noting its commit index, then confirming with a heartbeat round
 * that a majority still follows it. Once confirmed, any node that has
 * applied up to that index can serve the read from local state.
 */
import type { NodeId } from './messages.js';
import { majority } from './quorum.js';

interface PendingRead {
  readonly index: number;
  /** Who asked: this node, or a follower that forwarded the request. */
  readonly from: NodeId;
  readonly context: string;
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private readonly order: string[] = [];

  add(index: number, from: NodeId, context: string, self: NodeId): void {
    if (this.pending.has(context)) return;
    this.pending.set(context, { index, from, context, acks: new Set([self]) });
    this.order.push(context);
  }

  /** Records a heartbeat answer carrying `context`; returns how many voters confirmed it. */
  ack(context: string, from: NodeId, isVoter: (id: NodeId) => boolean): number {
    const read = this.pending.get(context);
    if (!read) return 0;
    read.acks.add(from);
    let n = 0;
    for (const id of read.acks) if (isVoter(id)) n++;
    return n;
  }

  /**
   * Releases `context` and every read queued before it: a majority that
   * acknowledged a later heartbeat also vouches for the earlier reads.
   */
  release(context: string): PendingRead[] {
    const at = this.order.indexOf(context);
    if (at < 0) return [];
    const released = this.order.splice(0, at + 1).map((c) => this.pending.get(c)!);
    for (const r of released) this.pending.delete(r.context);
    return released;
  }

  lastPendingContext(): string | undefined {
    return this.order[this.order.length - 1];
  }

  clear(): void {
    this.pending.clear();
    this.order.length = 0;
  }
}

export function readConfirmed(ackingVoters: number, voterCount: number): boolean {
  return ackingVoters >= majority(voterCount);
}

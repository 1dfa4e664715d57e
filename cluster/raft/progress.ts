/**
 * The leader's view of one follower (etcd's tracker.Progress): how much of its
 * log is known to match, what to send next, and how fast.
 *
 * - probe: we do not know where the logs match; send one append per heartbeat
 *   interval and wait for the answer before sending more.
 * - replicate: the follower is in step; stream appends optimistically, bounded
 *   by an in-flight window.
 * - snapshot: the follower needs entries we compacted; one snapshot is in
 *   flight, nothing else is sent until it is acknowledged or times out.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent and no answer or heartbeat tick has come since. */
  probeSent = false;
  pendingSnapshot = 0;
  /** Ticks spent waiting for a snapshot acknowledgement; the snapshot is re-sent after an election timeout. */
  snapshotElapsed = 0;
  /** Heard from within the current check-quorum window (§6.2 of the dissertation, leader lease). */
  recentActive = false;
  /** Last index of each in-flight append, oldest first. */
  private readonly inflight: number[] = [];

  constructor(
    next: number,
    readonly isLearner: boolean,
    private readonly maxInflight: number,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    // Coming back from a snapshot, the follower holds at least the snapshot.
    const next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.reset('probe');
    this.next = next;
  }

  becomeReplicate(): void {
    this.reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotElapsed = 0;
    this.inflight.length = 0;
  }

  /** A success response: returns false if it was stale (it tells us nothing new). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    this.freeInflightTo(index);
    return updated;
  }

  /** Called when an append carrying entries up to `last` goes out. */
  sentEntries(last: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = last + 1;
        this.inflight.push(last);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * A rejection of the append probing `rejected`: move next back to the
   * follower's hint (fast back-off, §5.3 optimisation). Returns false if the
   * rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Appends at or below match were already acknowledged: a rejection of one is a reordered duplicate.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the latest probe (index next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /**
   * A heartbeat answer with a full window: the follower is alive but some
   * appends (or their answers) were lost. Free one slot so replication can
   * probe on instead of stalling forever (etcd does the same).
   */
  freeFirstInflight(): void {
    this.inflight.shift();
  }

  freeInflightTo(index: number): void {
    let n = 0;
    while (n < this.inflight.length && this.inflight[n]! <= index) n++;
    if (n > 0) this.inflight.splice(0, n);
  }

  /** Whether sending more appends now would overrun the follower. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }
}

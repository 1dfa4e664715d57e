/**
 * Log replication, the half of the Raft state machine that moves entries
 * (etcd raft.go's append handling): the follower side of AppendEntries and
 * InstallSnapshot (§5.3, §7), and the leader side that tracks each
 * follower's progress, sends what it lacks and advances commit. Also the
 * ReadIndex bookkeeping that rides on heartbeats. Roles, elections and time
 * live in raft.ts, which extends this class.
 */
import { resolveConfig, type RaftConfig, type ResolvedConfig } from './config.js';
import { RaftLog } from './log.js';
import {
  NO_NODE,
  type AppendMessage,
  type AppendResponse,
  type Entry,
  type HeartbeatMessage,
  type HeartbeatResponse,
  type Message,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
  type SnapshotMessage,
} from './messages.js';
import { ReadOnlyQueue, readConfirmed } from './read-index.js';
import { ProgressTracker } from './tracker.js';

/** Distributes an optional-property object so each message type keeps its own required fields. */
export type Outgoing = Message extends infer M ? (M extends Message ? Omit<M, 'from' | 'term'> & { term?: number } : never) : never;

export abstract class RaftReplication {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NO_NODE;
  lead: NodeId = NO_NODE;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  /** Messages produced since the last Ready. */
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee: NodeId = NO_NODE;
  electionElapsed = 0;
  /** Conf changes take effect once committed; this is the last index scanned for them. */
  protected confAppliedIndex = 0;
  protected readonly readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its own term (§6.4 step 1). */
  protected pendingReads: { from: NodeId; context: string }[] = [];
  protected readonly cfg: ResolvedConfig;

  constructor(config: RaftConfig) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.log = new RaftLog(config.storage);
    this.tracker = new ProgressTracker(this.cfg.maxInflight);
  }

  // ---- follower side of replication --------------------------------------

  protected handleAppend(m: AppendMessage): void {
    if (m.index < this.log.committed) {
      // Everything up to commit already matches the leader: say so and let it skip ahead.
      this.send({ type: 'app-resp', to: m.from, index: this.log.committed, reject: false, rejectHint: 0, hintTerm: 0 });
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: 'app-resp', to: m.from, index: lastNew, reject: false, rejectHint: 0, hintTerm: 0 });
      return;
    }
    // §5.3 consistency check failed; hint where our logs may match so the leader skips a term at a time.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({ type: 'app-resp', to: m.from, index: m.index, reject: true, rejectHint: hint.index, hintTerm: hint.term });
  }

  protected handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(match, commit), so this never exceeds what we hold in its term.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'heartbeat-resp', to: m.from, context: m.context });
  }

  protected handleSnapshot(m: SnapshotMessage): void {
    const restored = this.restore(m.snapshot);
    this.send({
      type: 'app-resp',
      to: m.from,
      index: restored ? this.log.lastIndex() : this.log.committed,
      reject: false,
      rejectHint: 0,
      hintTerm: 0,
    });
  }

  /** Installs a leader's snapshot unless our log already holds everything in it. */
  protected restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: only commit moves (etcd fast-forward).
      this.log.commitTo(index);
      return false;
    }
    this.cfg.logger('restoring-snapshot', { id: this.id, term: this.term, index, snapshotTerm: term });
    this.log.restore(s);
    this.tracker.setConf(confState, this.log.lastIndex() + 1);
    this.confAppliedIndex = index;
    return true;
  }

  // ---- leader side of replication ----------------------------------------

  protected appendEntries(entries: readonly Entry[]): void {
    let index = this.log.lastIndex();
    const stamped = entries.map((e) => ({ index: ++index, term: this.term, type: e.type, data: e.data }));
    if (stamped.length === 0) return;
    this.log.append(stamped);
    // The leader's own copy counts once the caller persists it, which the Ready contract
    // guarantees happens before any message (and so any follower acknowledgement) leaves.
    this.tracker.progress.get(this.id)?.maybeUpdate(this.log.lastIndex());
    this.maybeCommit();
  }

  /**
   * §5.3/§5.4.2: commit the highest index stored on a majority, but only if it
   * carries the current term; older entries commit indirectly with it (Figure 8).
   */
  protected mayCommitAt(index: number): boolean {
    return this.log.term(index) === this.term;
  }

  protected maybeCommit(): boolean {
    const index = this.tracker.committed();
    if (index <= this.log.committed || !this.mayCommitAt(index)) return false;
    this.log.commitTo(index);
    this.releasePendingReads();
    return true;
  }

  protected handleAppendResponse(m: AppendResponse): void {
    const pr = this.tracker.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.hintTerm > 0) probe = this.log.findConflictByTerm(m.rejectHint, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    if (!pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe' && pr.match === m.index) pr.probeSent = false;
      else return;
    }
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      while (this.sendAppend(m.from, false)) {
        // Keep streaming while the in-flight window allows.
      }
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeout-now', to: m.from });
    }
  }

  protected handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.tracker.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.isPaused()) pr.freeFirstInflight();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context === undefined) return;
    const acks = this.readOnly.ack(m.context, m.from, (id) => this.tracker.isVoter(id));
    if (!readConfirmed(acks, this.tracker.conf.voters.length)) return;
    for (const read of this.readOnly.release(m.context)) this.answerRead(read.from, read.index, read.context);
  }

  /**
   * Sends the follower what it is missing: entries after its next index, or
   * the snapshot if those were compacted away. Returns whether anything went.
   */
  protected sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined || pr.next < this.log.firstIndex()) return this.sendSnapshot(to);
    const entries = this.log.entriesFrom(pr.next, this.cfg.maxEntriesPerMessage);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  protected sendSnapshot(to: NodeId): boolean {
    const pr = this.tracker.progress.get(to)!;
    const snapshot = this.log.snapshot();
    if (snapshot.metadata.index === 0) return false;
    pr.becomeSnapshot(snapshot.metadata.index);
    this.cfg.logger('sending-snapshot', { id: this.id, term: this.term, to, index: snapshot.metadata.index });
    this.send({ type: 'snap', to, snapshot });
    return true;
  }

  protected bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  protected bcastHeartbeat(context: string | undefined): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      // Never advertise a commit the follower may not hold: its log could still differ past match.
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  // ---- reads -----------------------------------------------------------

  protected handleReadIndex(from: NodeId, context: string): void {
    if (this.tracker.conf.voters.length === 1 && this.tracker.isVoter(this.id)) {
      this.answerRead(from, this.log.committed, context);
      return;
    }
    if (this.log.term(this.log.committed) !== this.term) {
      this.pendingReads.push({ from, context });
      return;
    }
    this.readOnly.add(this.log.committed, from, context, this.id);
    this.bcastHeartbeat(context);
  }

  protected releasePendingReads(): void {
    if (this.pendingReads.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const reads = this.pendingReads;
    this.pendingReads = [];
    for (const r of reads) this.handleReadIndex(r.from, r.context);
  }

  protected answerRead(from: NodeId, index: number, context: string): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'read-index-resp', to: from, index, context });
  }

  protected send(m: Outgoing): void {
    // Vote answers carry the term they answer; everything else our own, except forwarded requests (term 0).
    const term = m.term ?? this.term;
    this.msgs.push({ ...m, from: this.id, term } as Message);
  }
}

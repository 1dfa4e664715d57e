/**
 * Membership changes, leadership transfer, read requests and the state the
 * node reports, and the leader's tick (etcd's raft.go, those parts): the layer between moving entries (replication.ts)
 * and the roles and elections (raft.ts). A change is one voter or learner at
 * a time, effective when its entry commits, so old and new majorities always
 * overlap; a transfer brings the transferee up to date, then tells it to
 * campaign at once (§3.10 of the dissertation).
 */
import { ConfChangeRejectedError, ProposalDroppedError } from './errors.js';
import { NO_NODE, type ConfState, type HardState, type NodeId, type SoftState } from './messages.js';
import { applyConfChange, confChangeProblem, decodeConfChange, encodeConfChange, type ConfChange } from './membership.js';
import { RaftReplication } from './replication.js';

export abstract class RaftMembership extends RaftReplication {
  /** Index of the latest conf-change entry on a leader; no new change until it commits. */
  pendingConfIndex = 0;
  protected heartbeatElapsed = 0;

  abstract becomeFollower(term: number, lead: NodeId): void;

  /**
   * Asks for a linearizable read point; the answer arrives as a ReadState
   * carrying `context`. The context must be unique per request: a heartbeat
   * answer to an earlier round with the same context would confirm too early.
   */
  readIndex(context: string): void {
    if (this.role === 'leader') {
      this.handleReadIndex(this.id, context);
    } else if (this.lead !== NO_NODE) {
      this.send({ type: 'read-index', to: this.lead, term: 0, context });
    } else {
      throw new ProposalDroppedError('no-leader');
    }
    this.applyCommittedConfChanges();
  }

  // ---- outputs the RaftNode reads into a Ready ----------------------------

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  confState(): ConfState {
    return this.tracker.conf;
  }

  /**
   * Proposes one membership change. Only the leader accepts it, only once the
   * previous change is committed and the leader has committed an entry of its
   * own term: without that barrier a leader elected under the old
   * configuration could commit a change that a concurrent leader's overlapping
   * change contradicts (Ongaro, raft-dev 2015, single-server change bug).
   */
  proposeConfChange(change: ConfChange): void {
    if (this.role !== 'leader') throw new ConfChangeRejectedError('not-leader', `${this.id} is not the leader`);
    if (this.leadTransferee !== NO_NODE) {
      throw new ConfChangeRejectedError('leader-transferring', `leadership is moving to ${this.leadTransferee}`);
    }
    if (this.pendingConfIndex > this.log.committed) {
      throw new ConfChangeRejectedError('change-in-progress', `change at index ${this.pendingConfIndex} is not committed yet`);
    }
    if (this.log.term(this.log.committed) !== this.term) {
      throw new ConfChangeRejectedError('no-current-term-commit', `leader has not committed an entry of term ${this.term}`);
    }
    const problem = confChangeProblem(this.tracker.conf, change);
    if (problem !== undefined) throw new ConfChangeRejectedError('invalid', problem);
    if (change.type === 'add-voter') {
      throw new ConfChangeRejectedError('invalid', 'add the node as a learner, then promote it once it has caught up');
    }
    if (change.type === 'promote') {
      const pr = this.tracker.progress.get(change.node);
      if (!pr || pr.match < this.log.committed) {
        throw new ConfChangeRejectedError('learner-behind', `${change.node} has ${pr?.match ?? 0} of ${this.log.committed} committed entries`);
      }
    }
    if (change.type === 'remove' && change.node === this.id) {
      const successor = this.bestTransferee();
      if (successor === NO_NODE) throw new ConfChangeRejectedError('invalid', 'no other voter can take over');
      this.transferLeadership(successor);
      throw new ConfChangeRejectedError('leader-transferring', `leadership is moving to ${successor}; retry there`);
    }
    this.appendEntries([{ index: 0, term: 0, type: 'conf-change', data: encodeConfChange(change) }]);
    this.pendingConfIndex = this.log.lastIndex();
    this.bcastAppend();
    this.applyCommittedConfChanges();
  }

  /** Hands leadership to `to` (§3.10 of the dissertation); on a follower, asks the leader to. */
  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader') {
      if (this.lead === NO_NODE) throw new ProposalDroppedError('no-leader');
      this.send({ type: 'transfer-leader', to: this.lead, term: 0, transferee: to });
      return;
    }
    this.handleTransferLeader(to);
    this.applyCommittedConfChanges();
  }


  // ---- transfers, membership --------------------------------------------

  protected handleTransferLeader(to: NodeId): void {
    if (to === this.id || !this.tracker.isVoter(to)) return;
    if (this.leadTransferee === to) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or is abandoned.
    this.electionElapsed = 0;
    this.cfg.logger('transferring-leadership', { id: this.id, term: this.term, to });
    const pr = this.tracker.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeout-now', to });
    else this.sendAppend(to, true);
  }

  /** The voter with the longest log, to hand leadership to (graceful shutdown, removing the leader). */
  bestTransferee(): NodeId {
    let best: NodeId = NO_NODE;
    let bestMatch = -1;
    for (const id of this.tracker.conf.voters) {
      if (id === this.id) continue;
      const match = this.tracker.progress.get(id)?.match ?? 0;
      if (match > bestMatch) {
        best = id;
        bestMatch = match;
      }
    }
    return best;
  }

  /** Membership takes effect when its entry commits; one change at a time keeps majorities overlapping. */
  protected applyCommittedConfChanges(): void {
    // A change can move commit itself (a smaller quorum may already hold later entries),
    // so scan until caught up: entries left unscanned could be compacted before the next event.
    while (this.log.committed > this.confAppliedIndex) {
      const from = this.confAppliedIndex + 1;
      const to = this.log.committed;
      this.confAppliedIndex = to;
      for (const e of this.log.slice(from, to + 1)) {
        if (e.type !== 'conf-change') continue;
        const change = decodeConfChange(e.data);
        this.tracker.setConf(applyConfChange(this.tracker.conf, change), this.log.lastIndex() + 1);
        this.cfg.logger('membership-changed', { id: this.id, term: this.term, index: e.index, change: change.type, node: change.node });
        if (this.role === 'leader') this.afterLeaderConfChange();
      }
    }
  }

  private afterLeaderConfChange(): void {
    if (!this.tracker.isVoter(this.id)) {
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    if (this.leadTransferee !== NO_NODE && !this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = NO_NODE;
    // A smaller quorum may already hold more entries; new members need their first append.
    if (this.maybeCommit()) this.bcastAppend();
    else for (const [id, pr] of this.tracker.progress) if (pr.match === 0 && !pr.probeSent) this.sendAppend(id, true);
  }

  /** The leader's tick: heartbeats, the check-quorum step-down, abandoned transfers and lost snapshots. */
  protected tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          this.cfg.logger('stepped-down-no-quorum', { id: this.id, term: this.term });
          this.becomeFollower(this.term, NO_NODE);
          return;
        }
        this.tracker.resetRecentActive(this.id);
      }
      // A transfer that did not finish within one election timeout is abandoned (§3.10).
      if (this.leadTransferee !== NO_NODE) this.leadTransferee = NO_NODE;
    }
    for (const [id, pr] of this.tracker.progress) {
      if (pr.state === 'snapshot' && ++pr.snapshotElapsed >= this.cfg.electionTicks) {
        // The snapshot or its answer was lost: probe again, which re-sends it if still needed.
        pr.becomeProbe();
        this.sendAppend(id, true);
      }
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(undefined);
    }
  }
}

/**
 * The current configuration and, on a leader, the progress of every member
 * (etcd's tracker/). Followers keep the configuration too: it decides whom
 * they ask for votes and whether they may campaign at all.
 */
import type { ConfState, NodeId } from './messages.js';
import { EMPTY_CONF_STATE } from './membership.js';
import { Progress } from './progress.js';
import { committedIndex, majority, voteResult, type VoteResult } from './quorum.js';

export class ProgressTracker {
  conf: ConfState = EMPTY_CONF_STATE;
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly maxInflight: number) {}

  isVoter(id: NodeId): boolean {
    return this.conf.voters.includes(id);
  }

  /** Replaces the configuration; members that stay keep their progress, new ones probe from `nextIndex`. */
  setConf(conf: ConfState, nextIndex: number): void {
    this.conf = conf;
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
    for (const id of members) {
      const learner = conf.learners.includes(id);
      const pr = this.progress.get(id);
      if (!pr) {
        this.progress.set(id, this.newProgress(nextIndex, learner));
      } else if (pr.isLearner !== learner) {
        const promoted = this.newProgress(pr.next, learner);
        promoted.match = pr.match;
        promoted.recentActive = pr.recentActive;
        this.progress.set(id, promoted);
      }
    }
  }

  /** Fresh progress for every member, as a new leader has (§5.3: nextIndex = leader's last + 1). */
  resetProgress(nextIndex: number, self: NodeId, selfMatch: number): void {
    for (const id of [...this.progress.keys()]) {
      const pr = this.newProgress(nextIndex, this.progress.get(id)!.isLearner);
      if (id === self) {
        pr.match = selfMatch;
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    }
  }

  private newProgress(next: number, learner: boolean): Progress {
    return new Progress(next, learner, this.maxInflight);
  }

  committed(): number {
    return committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  /** Check-quorum: did a majority of voters (counting ourselves) talk to us this window? */
  quorumActive(self: NodeId): boolean {
    let active = 0;
    for (const id of this.conf.voters) {
      if (id === self || this.progress.get(id)?.recentActive) active++;
    }
    return active >= majority(this.conf.voters.length);
  }

  resetRecentActive(self: NodeId): void {
    for (const [id, pr] of this.progress) pr.recentActive = id === self;
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.conf.voters, this.votes);
  }
}

/**
 * Deliberately broken variants for the negative-control tests: each breaks
 * exactly one rule the paper says safety depends on, so the checker must
 * catch it. Test-only; nothing in cluster/ can reach them.
 */
import type { RaftConfig } from '../../../../cluster/raft/config.js';
import type { HardState } from '../../../../cluster/raft/messages.js';
import { Raft } from '../../../../cluster/raft/raft.js';
import { RaftNode } from '../../../../cluster/raft/raft-node.js';

/** Counts replicas of old-term entries toward commit, which Figure 8 of the paper shows is unsafe. */
class OldTermCommitRaft extends Raft {
  protected override mayCommitAt(): boolean {
    return true;
  }
}

export class OldTermCommitNode extends RaftNode {
  protected override createCore(config: RaftConfig): Raft {
    return new OldTermCommitRaft(config);
  }
}

/** A host that writes term and commit but forgets the vote (§5.2 requires it to survive a crash). */
export function forgetVote(hs: HardState): HardState {
  return { ...hs, vote: '' };
}

/** Answers ReadIndex from its own commit index without confirming leadership (§6.4 skipped): a deposed leader serves stale reads. */
class LeaseFreeReadRaft extends Raft {
  protected override handleReadIndex(from: string, context: string): void {
    this.answerRead(from, this.log.committed, context);
  }
}

export class UnconfirmedReadNode extends RaftNode {
  protected override createCore(config: RaftConfig): Raft {
    return new LeaseFreeReadRaft(config);
  }
}

/** Forgets the vote along with the leader when the link to the leader closes: the vote of that term is free again (§5.2). */
class VoteForgettingRaft extends Raft {
  override forgetLeader(): void {
    const had = this.role === 'follower' && this.lead !== '';
    super.forgetLeader();
    if (had) this.vote = '';
  }
}

export class VoteForgettingNode extends RaftNode {
  protected override createCore(config: RaftConfig): Raft {
    return new VoteForgettingRaft(config);
  }
}

/**
 * Safety invariants of Raft (§5.2 Figure 3), checked by the simulator after
 * every event. Each check is incremental: it looks at what the event just
 * produced (entries persisted, entries applied, roles observed) against a
 * global record, so it can run after every step of a long run.
 */
import type { Entry, HardState, NodeId } from '../../../../cluster/raft/messages.js';
import type { RaftNode } from '../../../../cluster/raft/raft-node.js';
import { entryKey } from './state-machine.js';

export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant:
      | 'election-safety'
      | 'log-matching'
      | 'leader-completeness'
      | 'state-machine-safety'
      | 'linearizable-read'
      | 'durable-state'
      | 'liveness'
      | 'core-error',
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

interface LoggedEntry {
  readonly key: string;
  /** Term of the entry before it in the log that stored it (undefined: compacted there). */
  readonly prevTerm: number | undefined;
}

export class InvariantChecker {
  /** Election safety: the one leader each term ever had. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Log matching: (index, term) → content and predecessor term. */
  private readonly logged = new Map<string, LoggedEntry>();
  /** State machine safety: what was applied at each index, by whoever applied it first. */
  private readonly applied = new Map<number, { term: number; key: string }>();
  /** State digest after applying each index, to check snapshots against. */
  private readonly digestAt = new Map<number, number>();
  private readonly completenessChecked = new Set<string>();
  checks = 0;

  /** After every event: at most one leader per term; a new leader holds every entry applied so far. */
  afterStep(nodes: Iterable<RaftNode>): void {
    this.checks++;
    for (const node of nodes) {
      const st = node.status();
      if (st.role !== 'leader') continue;
      const prior = this.leaderOfTerm.get(st.term);
      if (prior === undefined) this.leaderOfTerm.set(st.term, st.id);
      else if (prior !== st.id) {
        throw new InvariantViolation('election-safety', `term ${st.term} has two leaders: ${prior} and ${st.id}`);
      }
      const key = `${st.id}@${st.term}`;
      if (!this.completenessChecked.has(key)) {
        this.completenessChecked.add(key);
        this.checkLeaderCompleteness(node, st.term);
      }
    }
  }

  /**
   * Leader completeness (§5.4): every entry applied anywhere before this
   * leader's election was committed earlier, so it must be in its log.
   */
  private checkLeaderCompleteness(leader: RaftNode, term: number): void {
    for (const [index, a] of this.applied) {
      const t = leader.termAt(index);
      if (t === undefined) {
        // Compacted below the leader's snapshot (which the digest check covers) or missing.
        if (index > leader.status().lastIndex) {
          throw new InvariantViolation('leader-completeness', `leader ${leader.id} of term ${term} lacks committed index ${index}`);
        }
        continue;
      }
      if (t !== a.term) {
        throw new InvariantViolation(
          'leader-completeness',
          `leader ${leader.id} of term ${term} has term ${t} at committed index ${index} (committed term ${a.term})`,
        );
      }
    }
  }

  /**
   * Log matching (§5.3): two entries with the same index and term hold the
   * same command and follow the same predecessor term. By induction on the
   * predecessor, equal (index, term) means equal logs up to there.
   */
  onPersisted(node: NodeId, entries: readonly Entry[], prevTermOf: (index: number) => number | undefined): void {
    for (const e of entries) {
      const id = `${e.index}:${e.term}`;
      const mine: LoggedEntry = { key: entryKey(e), prevTerm: prevTermOf(e.index - 1) };
      const seen = this.logged.get(id);
      if (!seen) {
        this.logged.set(id, mine);
        continue;
      }
      if (seen.key !== mine.key) {
        throw new InvariantViolation('log-matching', `${node} stored different data at index ${e.index} term ${e.term}`);
      }
      if (seen.prevTerm !== undefined && mine.prevTerm !== undefined && seen.prevTerm !== mine.prevTerm) {
        throw new InvariantViolation(
          'log-matching',
          `${node} has term ${mine.prevTerm} before index ${e.index} term ${e.term}; another log has ${seen.prevTerm}`,
        );
      }
    }
  }

  /**
   * Figure 2's persistent state only moves forward: the term never goes back,
   * a vote once cast in a term never changes, a commit index never shrinks.
   */
  onHardStatePersisted(node: NodeId, prev: HardState, next: HardState): void {
    if (next.term < prev.term) throw new InvariantViolation('durable-state', `${node} persisted term ${next.term} after ${prev.term}`);
    if (next.term === prev.term && prev.vote !== '' && next.vote !== prev.vote) {
      throw new InvariantViolation('durable-state', `${node} changed its vote in term ${next.term} from ${prev.vote} to ${next.vote || 'nobody'}`);
    }
    if (next.commit < prev.commit) throw new InvariantViolation('durable-state', `${node} persisted commit ${next.commit} after ${prev.commit}`);
  }

  /** State machine safety (§5.4.3): no two nodes apply different entries at one index. */
  onApplied(node: NodeId, e: Entry, digestAfter: number): void {
    const key = entryKey(e);
    const first = this.applied.get(e.index);
    if (!first) {
      this.applied.set(e.index, { term: e.term, key });
      this.digestAt.set(e.index, digestAfter);
      return;
    }
    if (first.term !== e.term || first.key !== key) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${node} applied term ${e.term} at index ${e.index}; another node applied term ${first.term} there`,
      );
    }
    if (this.digestAt.get(e.index) !== digestAfter) {
      throw new InvariantViolation('state-machine-safety', `${node} reached a different state after index ${e.index}`);
    }
  }

  /** A restored snapshot must equal the state others reached at its index. */
  onSnapshotRestored(node: NodeId, index: number, digest: number): void {
    const expected = this.digestAt.get(index);
    if (expected === undefined) {
      this.digestAt.set(index, digest);
    } else if (expected !== digest) {
      throw new InvariantViolation('state-machine-safety', `${node} restored a snapshot at ${index} that differs from the applied state`);
    }
  }

  leaderCount(): number {
    return this.leaderOfTerm.size;
  }
}

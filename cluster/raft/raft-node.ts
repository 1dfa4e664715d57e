/**
 * The caller's handle on one Raft core (etcd's RawNode): feed it ticks,
 * messages and proposals, collect a Ready, do the I/O, call advance().
 * Nothing here blocks or touches the outside world.
 */
import type { RaftConfig } from './config.js';
import { RaftUsageError } from './errors.js';
import type { ConfState, HardState, Message, NodeId, Role, SoftState } from './messages.js';
import { applyConfChange, decodeConfChange, type ConfChange } from './membership.js';
import type { ProgressState } from './progress.js';
import { Raft } from './raft.js';
import type { Ready } from './ready.js';
import { sameHardState } from './storage/storage.js';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly learner: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly leader: NodeId;
  readonly role: Role;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Only on the leader: what it knows of each member. */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>>;
}

const encoder = new TextEncoder();

export class RaftNode {
  protected readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding: Ready | undefined;
  /** Membership as of the applied index (the core's own runs ahead, to the commit index). */
  private appliedConf: ConfState;

  constructor(config: RaftConfig) {
    this.raft = this.createCore(config);
    this.prevSoft = this.raft.softState();
    // What storage already holds needs no second write.
    this.prevHard = config.storage.initialState().hardState;
    this.appliedConf = config.storage.snapshot().metadata.confState;
  }

  /** Test-only variants (the simulator's negative controls) override this to break one rule. */
  protected createCore(config: RaftConfig): Raft {
    return new Raft(config);
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    if (message.to !== this.raft.id) throw new RaftUsageError(`message for ${message.to} stepped into ${this.raft.id}`);
    this.raft.step(message);
  }

  /** Throws ProposalDroppedError when no leader is known; a follower forwards to its leader. */
  propose(command: Uint8Array | string): void {
    this.raft.propose(typeof command === 'string' ? encoder.encode(command) : command);
  }

  /** Throws ConfChangeRejectedError (with a `reason`) unless this leader can take the change now. */
  proposeConfChange(change: ConfChange): void {
    this.raft.proposeConfChange(change);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  /**
   * Graceful shutdown: a leader hands leadership to its most caught-up voter
   * and returns who that is (undefined if not leader or no other voter).
   * Wait for the soft state to show another leader before stopping.
   */
  handOffLeadership(): NodeId | undefined {
    if (this.raft.role !== 'leader') return undefined;
    const to = this.raft.bestTransferee();
    if (to === '') return undefined;
    this.raft.transferLeadership(to);
    return to;
  }

  /** The answer arrives in a later Ready's readStates with the same context. */
  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  campaign(): void {
    this.raft.campaign();
  }

  /**
   * Call when the link to the leader closes: a follower forgets that leader
   * (soft state only; the next Ready reports leader none), so it grants
   * pre-votes at once. No effect on a leader, a candidate, or a follower
   * that knows no leader.
   */
  forgetLeader(): void {
    this.raft.forgetLeader();
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.raft;
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== undefined ||
      r.log.hasNextCommittedEntries() ||
      !sameSoft(r.softState(), this.prevSoft) ||
      !sameHardState(r.hardState(), this.prevHard)
    );
  }

  ready(): Ready {
    if (this.outstanding) throw new RaftUsageError('ready() called again before advance()');
    const r = this.raft;
    const soft = r.softState();
    const hard = r.hardState();
    const entries = [...r.log.unstable.entries];
    const snapshot = r.log.unstable.snapshot;
    const hardChanged = !sameHardState(hard, this.prevHard);
    const rd: Ready = {
      ...(sameSoft(soft, this.prevSoft) ? {} : { softState: soft }),
      ...(hardChanged ? { hardState: hard } : {}),
      ...(snapshot ? { snapshot } : {}),
      readStates: r.readStates,
      entries,
      committedEntries: r.log.nextCommittedEntries(),
      messages: r.msgs,
      mustSync: entries.length > 0 || snapshot !== undefined || (hardChanged && (hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote)),
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    this.outstanding = rd;
    return rd;
  }

  /** The caller has persisted, sent and applied everything in `rd`. */
  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new RaftUsageError('advance() must receive the last Ready');
    this.outstanding = undefined;
    const log = this.raft.log;
    if (rd.snapshot) {
      log.unstable.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > log.applied) log.applied = rd.snapshot.metadata.index;
      this.appliedConf = rd.snapshot.metadata.confState;
    }
    for (const e of rd.committedEntries) {
      if (e.type === 'conf-change') this.appliedConf = applyConfChange(this.appliedConf, decodeConfChange(e.data));
    }
    const last = rd.entries[rd.entries.length - 1];
    if (last) log.unstable.stableTo(last.index, last.term);
    const applied = rd.committedEntries[rd.committedEntries.length - 1];
    if (applied) log.appliedTo(applied.index);
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress: Record<NodeId, ProgressStatus> = {};
    if (r.role === 'leader') {
      for (const [id, pr] of r.tracker.progress) {
        progress[id] = { match: pr.match, next: pr.next, state: pr.state, learner: pr.isLearner, recentActive: pr.recentActive };
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      leader: r.lead,
      role: r.role,
      conf: r.confState(),
      leadTransferee: r.leadTransferee,
      progress,
    };
  }

  /** Term of the entry at `index` in this node's log (persisted or not); undefined if compacted or absent. For diagnostics and invariant checks. */
  termAt(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** The configuration as of the applied index, for storage.createSnapshot. */
  confState(): ConfState {
    return this.appliedConf;
  }
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

/**
 * The Raft state machine (etcd's raft.go). Pure: its inputs are ticks,
 * messages and proposals; its outputs are fields the RaftNode turns into a
 * Ready (messages to send, log entries to persist, readStates). `step` first
 * applies the rules common to every role (§5.1 term comparison, vote
 * handling), then hands the message to the role's own step function, chosen
 * when the role changes. Moving entries (AppendEntries, InstallSnapshot,
 * commit, ReadIndex) is in replication.ts; membership changes and leadership
 * transfer in raft-membership.ts, between the two.
 */
import type { RaftConfig } from './config.js';
import { ProposalDroppedError, RaftUsageError } from './errors.js';
import { EMPTY_DATA, NO_NODE, type Message, type NodeId, type VoteRequest } from './messages.js';
import type { RandomSource } from './prng.js';
import { RaftMembership } from './raft-membership.js';

type CampaignKind = 'pre-election' | 'election' | 'transfer';

export class Raft extends RaftMembership {
  private randomizedElectionTimeout = 0;
  /**
   * Ticks since this node cast its vote in the current term. Unlike
   * electionElapsed it is not reset by losing a pre-vote, so the pre-vote
   * refusal below lasts one election timeout after the vote and no longer.
   */
  private ticksSinceVote = Number.MAX_SAFE_INTEGER;
  private readonly random: RandomSource;
  private stepRole: (m: Message) => void = (m) => this.stepFollower(m);
  private tickRole: () => void = () => this.tickElection();

  constructor(config: RaftConfig) {
    super(config);
    this.random = config.random;
    const { hardState, confState } = config.storage.initialState();
    const snapIndex = config.storage.snapshot().metadata.index;
    this.tracker.setConf(confState, this.log.lastIndex() + 1);
    this.confAppliedIndex = snapIndex;
    // A snapshot is committed by definition, even if the stored commit lags behind it.
    const commit = Math.max(hardState.commit, snapIndex);
    if (commit > this.log.lastIndex()) {
      throw new RaftUsageError(`stored commit ${commit} is past the last stored index ${this.log.lastIndex()}`);
    }
    this.log.commitTo(commit);
    this.term = hardState.term;
    this.vote = hardState.vote;
    // Committed membership changes take effect before the first tick, so a restarted node campaigns in the right configuration.
    this.applyCommittedConfChanges();
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---- inputs ------------------------------------------------------------

  tick(): void {
    this.ticksSinceVote++;
    this.tickRole();
    this.applyCommittedConfChanges();
  }

  step(m: Message): void {
    this.stepMessage(m);
    this.applyCommittedConfChanges();
  }

  /** Starts an election now, as if the election timeout had fired. */
  campaign(): void {
    this.hup();
    this.applyCommittedConfChanges();
  }

  /**
   * The caller's link to the leader closed (etcd's ForgetLeader). A follower
   * drops the leader it knew, so its leader lease no longer makes it ignore
   * pre-votes and a quorum that agrees the leader is gone can elect a new one
   * at once; a follower that still hears the leader keeps refusing, so one
   * broken link cannot depose a healthy leader. Term, vote and the election
   * timer stay as they are; the leader's next append or heartbeat restores it.
   * Leaders, candidates and a follower that knows no leader ignore it.
   */
  forgetLeader(): void {
    if (this.role !== 'follower' || this.lead === NO_NODE) return;
    this.cfg.logger('leader-forgotten', { id: this.id, term: this.term, leader: this.lead });
    this.lead = NO_NODE;
    // Knowing a leader of this term means the election we may have voted in is over: the
    // refusal of pre-votes right after a vote (handleVoteRequest) must not hold the failover up.
    this.ticksSinceVote = Number.MAX_SAFE_INTEGER;
  }

  propose(data: Uint8Array): void {
    if (this.role === 'leader') {
      if (this.leadTransferee !== NO_NODE) throw new ProposalDroppedError('transferring-leadership');
      if (!this.tracker.progress.has(this.id)) throw new ProposalDroppedError('not-a-member');
      this.appendEntries([{ index: 0, term: 0, type: 'normal', data }]);
      this.bcastAppend();
    } else if (this.lead !== NO_NODE) {
      // Forwarded proposals carry no term: the leader assigns it (etcd MsgProp).
      this.send({ type: 'prop', to: this.lead, term: 0, entries: [{ index: 0, term: 0, type: 'normal', data }] });
    } else {
      throw new ProposalDroppedError('no-leader');
    }
    this.applyCommittedConfChanges();
  }

  // ---- common step -------------------------------------------------------

  private stepMessage(m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        // Leader lease (§6 of the dissertation, check-quorum): a node that heard from a
        // live leader within the election timeout ignores would-be disruptors.
        const inLease = this.cfg.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.cfg.electionTicks;
        if (!m.transfer && inLease) {
          this.cfg.logger('vote-ignored-in-lease', { id: this.id, term: this.term, from: m.from, type: m.type });
          return;
        }
      }
      if (m.type === 'pre-vote') {
        // A pre-vote must not change our term: that is the whole point of it.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // Granted pre-votes carry the term we would campaign at, not one someone reached.
      } else {
        // §5.1: a higher term makes us a follower of that term.
        const leader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' ? m.from : NO_NODE;
        const elapsed = this.electionElapsed;
        this.becomeFollower(m.term, leader);
        // Figure 2: only a leader's append or a granted vote restarts the election timer. If every
        // rejected candidate reset it, stale candidates bumping terms could starve the up-to-date
        // nodes of their turn to campaign (a granted vote resets it below).
        if (m.type === 'vote') this.electionElapsed = elapsed;
      }
    } else if (m.term !== 0 && m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'heartbeat' || m.type === 'app')) {
        // A stale leader cut off by a partition would otherwise never learn our term:
        // with pre-vote we never force terms up, so tell it (etcd does the same).
        this.send({ type: 'app-resp', to: m.from, index: 0, reject: false, rejectHint: 0, hintTerm: 0 });
      } else if (m.type === 'pre-vote') {
        this.send({ type: 'pre-vote-resp', to: m.from, reject: true });
      }
      // §5.1: any other stale-term message is ignored.
      return;
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVoteRequest(m);
      return;
    }
    this.stepRole(m);
  }

  /** §5.2 one vote per term, §5.4.1 only for a candidate whose log is at least as up to date. */
  private handleVoteRequest(m: VoteRequest): void {
    // Having just voted for another candidate (or for ourselves) in this term, a leader is
    // probably about to emerge: a pre-vote for a later term now would only depose it a moment
    // after it wins. Without this, two nodes whose timers fire together can take turns
    // deposing each other for many rounds (found by the chaos simulation).
    const electionUnderWay =
      m.type === 'pre-vote' && !m.transfer && this.vote !== NO_NODE && this.vote !== m.from && this.ticksSinceVote < this.cfg.electionTicks;
    const canVote =
      !electionUnderWay &&
      (this.vote === m.from || (this.vote === NO_NODE && this.lead === NO_NODE) || (m.type === 'pre-vote' && m.term > this.term));
    const respType = m.type === 'vote' ? 'vote-resp' : 'pre-vote-resp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
        this.ticksSinceVote = 0;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  // ---- role transitions --------------------------------------------------

  override becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
    this.stepRole = (m) => this.stepFollower(m);
    this.tickRole = () => this.tickElection();
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new RaftUsageError('a leader cannot become a pre-candidate');
    // Pre-candidates keep term and vote: losing a pre-vote must leave no trace (dissertation §9.6).
    this.tracker.votes.clear();
    this.lead = NO_NODE;
    this.role = 'pre-candidate';
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new RaftUsageError('a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.ticksSinceVote = 0;
    this.role = 'candidate';
    this.stepRole = (m) => this.stepCandidate(m);
    this.tickRole = () => this.tickElection();
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new RaftUsageError('a follower cannot become leader without an election');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.stepRole = (m) => this.stepLeader(m);
    this.tickRole = () => this.tickHeartbeat();
    // A change may sit uncommitted in the log from an earlier term: wait for it conservatively.
    this.pendingConfIndex = this.log.lastIndex();
    // §8: a leader commits an entry of its own term first; until then it cannot know what is committed.
    this.appendEntries([{ index: 0, term: 0, type: 'normal', data: EMPTY_DATA }]);
    this.cfg.logger('became-leader', { id: this.id, term: this.term });
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.random.int(this.cfg.electionTicks);
    this.leadTransferee = NO_NODE;
    this.tracker.votes.clear();
    this.tracker.resetProgress(this.log.lastIndex() + 1, this.id, this.log.lastIndex());
    this.pendingConfIndex = 0;
    this.readOnly.clear();
    this.pendingReads = [];
  }

  private promotable(): boolean {
    return this.tracker.isVoter(this.id) && !this.log.unstable.snapshot;
  }

  // ---- time --------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup();
    }
  }

  // ---- elections ---------------------------------------------------------

  private hup(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    this.startCampaign(this.cfg.preVote ? 'pre-election' : 'election');
  }

  private startCampaign(kind: CampaignKind): void {
    let voteTerm: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tallyVotes() === 'won') {
      // A single voter wins at once.
      if (kind === 'pre-election') this.startCampaign('election');
      else this.becomeLeader();
      return;
    }
    const type = kind === 'pre-election' ? 'pre-vote' : 'vote';
    for (const id of this.tracker.conf.voters) {
      if (id === this.id) continue;
      this.send({
        type,
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        transfer: kind === 'transfer',
      });
    }
  }

  // ---- role step functions -----------------------------------------------

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        if (this.lead !== NO_NODE) this.send({ ...m, to: this.lead, term: 0 });
        return;
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'transfer-leader':
      case 'read-index':
        if (this.lead !== NO_NODE) this.send({ ...m, to: this.lead, term: 0 });
        return;
      case 'timeout-now':
        // The leader chose us: campaign at once, skipping pre-vote, and tell voters to ignore their lease.
        if (this.promotable()) this.startCampaign('transfer');
        return;
      case 'read-index-resp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
        // §5.2: a candidate that hears from a leader of its term (or newer) steps down.
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'vote-resp':
      case 'pre-vote-resp': {
        // Only answers to our own kind of campaign count.
        if ((m.type === 'vote-resp') !== (this.role === 'candidate')) return;
        this.tracker.recordVote(m.from, !m.reject);
        const result = this.tracker.tallyVotes();
        if (result === 'won') {
          if (this.role === 'pre-candidate') {
            this.startCampaign('election');
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NO_NODE);
        }
        return;
      }
      default:
        // Proposals, reads and transfers find no leader here and are dropped.
        return;
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop':
        if (this.leadTransferee !== NO_NODE || !this.tracker.progress.has(this.id)) return;
        this.appendEntries(m.entries.filter((e) => e.type === 'normal'));
        this.bcastAppend();
        return;
      case 'read-index':
        this.handleReadIndex(m.from, m.context);
        return;
      case 'transfer-leader':
        this.handleTransferLeader(m.transferee);
        return;
      case 'app-resp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeat-resp':
        this.handleHeartbeatResponse(m);
        return;
      default:
        return;
    }
  }
}

/**
 * One node's Raft member: the loop of cluster/raft/README.md around a pure
 * RaftNode, on durable storage and a Transport. Ticks, peer frames,
 * proposals and reads are inputs; after each input every Ready is handled
 * in order (persist, then send, then restore/apply, then release reads, then
 * advance), one at a time. An input that arrives while a Ready is being
 * handled (a listener calling back in) is queued and handled after it.
 */
import { randomBytes } from 'node:crypto';
import { OperatorError } from '../../src/base/operator-error.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { NO_QUORUM } from '../../src/node/cluster-control.js';
import { ProposalDroppedError } from '../raft/errors.js';
import { decodeConfChange, isMember, type ConfChange } from '../raft/membership.js';
import { encodeMessage } from '../raft/message-codec.js';
import type { ConfState, Entry, NodeId, Role, SoftState } from '../raft/messages.js';
import type { RaftNode, RaftStatus } from '../raft/raft-node.js';
import type { RaftStorage } from '../raft/storage/storage.js';
import { ClusterState, type ApplyOutcome } from '../state/cluster-state.js';
import type { ClusterCommand } from '../state/commands.js';
import type { FrameKind, PeerId, Transport } from '../transport/transport.js';
import { decodeControl, encodeControl, type ControlMessage } from './control-messages.js';
import { MemberListeners, type MemberEvents } from './member-events.js';
import { MemberWaits } from './member-waits.js';
import { afterLeaderLinkLost } from './leader-failover.js';
import { changeMembership } from './membership-change.js';
import { PeerActivity } from './peer-activity.js';
import { openCore, resolveMemberOptions, stateOfStoredSnapshot, type RaftMemberOptions, type ResolvedMemberOptions } from './raft-member-options.js';
import { ProposalQueue, timedProposal } from './proposal-queue.js';
import { clusterView, memberStatus, type MemberStatus } from './member-status.js';
import { broadcastControl, decodeRaftFrame, peerEndpoints } from './peer-frames.js';

export type { RaftMemberOptions } from './raft-member-options.js';
export const MEMBER_STOPPED = 'this node is no longer running as a cluster member';

export class RaftMember {
  readonly id: NodeId;
  readonly state: ClusterState;
  private readonly node: RaftNode;
  private readonly storage: RaftStorage;
  private readonly transport: Transport;
  private readonly log: Logger;
  private readonly o: ResolvedMemberOptions;
  private readonly events = new MemberListeners();
  private readonly waits = new MemberWaits();
  private readonly activity = new PeerActivity();
  private readonly proposals: ProposalQueue;
  private readonly inbox: (() => void)[] = [];
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readCounter = 0;
  private started = false;
  private stopped = false;
  private storageClosed = false;
  private removedBy: 'applied' | 'notice' | undefined;
  private soft: SoftState = { leader: '', role: 'follower' };
  private roleSince = new Date();
  /** Index of the conf change that last added this node (0: before the snapshot): an older removal notice is not ours. */
  private addedAt = 0;
  private readonly historyUntil: number;

  constructor(options: RaftMemberOptions) {
    this.id = options.id;
    this.transport = options.transport;
    this.log = (options.logger ?? silentLogger()).child({ module: 'raft-member' });
    this.o = resolveMemberOptions(options);
    this.historyUntil = options.historyUntil ?? 0;
    ({ storage: this.storage, node: this.node } = openCore(options, this.log));
    this.state = stateOfStoredSnapshot(this.storage, options.dir);
    this.proposals = new ProposalQueue(`${this.id}/${randomBytes(6).toString('hex')}`);
    this.proposals.onHeadChanged = () => this.run(() => this.sendHeadProposal(true));
    this.transport.on('frame', (from, kind, payload) => this.onFrame(from, kind, payload));
    this.transport.on('linkUp', (peer) => this.started && !this.stopped && this.activity.linkUp(peer.id));
    this.transport.on('linkDown', (peer) => this.onLinkDown(peer));
  }

  /** Starts ticking; resolves at once (the transport is started by its owner). */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const peer of this.transport.connected()) this.activity.linkUp(peer);
    this.syncPeers();
    this.timer = setInterval(() => this.onTick(), this.o.tickMs);
    this.run(() => undefined);
  }

  on<E extends keyof MemberEvents>(event: E, handler: MemberEvents[E]): () => void {
    return this.events.on(event, handler);
  }

  get running(): boolean {
    return this.started && !this.stopped;
  }

  raftStatus(): RaftStatus {
    return this.node.status();
  }

  leader(): NodeId {
    return this.soft.leader;
  }

  isLeader(): boolean {
    return this.soft.role === 'leader';
  }

  /** The configuration as of the applied index. */
  conf(): ConfState {
    return this.node.confState();
  }

  /** Whether the applied configuration holds this node (as voter or learner). */
  inConfiguration(): boolean {
    return isMember(this.node.confState(), this.id);
  }

  status(): MemberStatus {
    return memberStatus(this.id, this.node.status(), this.soft, this.roleSince, this.state, this.activity);
  }

  /** Starts an election now (a new one-member cluster). */
  campaign(): void {
    this.run(() => this.node.campaign());
  }

  /**
   * Proposes a command; resolves with its outcome once this node applied it.
   * Rejects with NO_QUORUM when no leader is known (whenLeaderKnown), with the state's
   * refusal when it was refused, and after `timeoutMs` with an error saying it
   * may still be applied.
   */
  async propose(command: ClusterCommand, timeoutMs: number): Promise<ApplyOutcome> {
    if (!this.running) throw new OperatorError(MEMBER_STOPPED);
    return timedProposal(async () => {
      await this.whenLeaderKnown();
      const { promise, first } = this.proposals.add(command, timeoutMs);
      if (first) this.run(() => this.sendHeadProposal(true));
      return promise;
    }, this.o.onProposal, MEMBER_STOPPED);
  }

  /** Linearizable read barrier: resolves once this node applied everything committed when it was asked. */
  async readIndex(timeoutMs: number): Promise<void> {
    if (!this.running) throw new OperatorError(MEMBER_STOPPED);
    await this.whenLeaderKnown();
    const context = `${this.proposals.client}/read-${++this.readCounter}`;
    const done = this.waits.addRead(context, timeoutMs);
    this.run(() => {
      try {
        this.node.readIndex(context);
      } catch (err) {
        if (!(err instanceof ProposalDroppedError)) throw err;
        this.waits.failRead(context, new OperatorError(NO_QUORUM));
      }
    });
    return done;
  }

  private async whenLeaderKnown(): Promise<void> {
    await this.waits.untilLeader(() => this.soft.leader !== '' || !this.running, this.o.leaderWaitMs, () => new OperatorError(NO_QUORUM));
    if (!this.running) throw new OperatorError(MEMBER_STOPPED);
  }

  /** A membership change on the leader, resolved once applied here (membership-change.ts: which refusals are retried). */
  changeMembership(change: ConfChange, timeoutMs: number): Promise<void> {
    return changeMembership(
      {
        propose: (c) => this.inLoop(() => this.node.proposeConfChange(c)),
        conf: () => this.node.confState(),
        until: (holds, ms, what) => this.waits.until(holds, ms, what),
        running: () => this.running,
        retryDelayMs: this.o.tickMs * 2,
      },
      change,
      timeoutMs,
    );
  }

  /** On the leader: resolves once `id` holds everything the leader had committed when asked. */
  waitCaughtUp(id: NodeId, timeoutMs: number): Promise<void> {
    const target = this.node.status().commit;
    const term = this.node.status().term;
    return this.waits.until(
      () => {
        const s = this.node.status();
        if (s.role !== 'leader' || s.term !== term) throw new OperatorError('leadership changed while a member was catching up');
        return (s.progress[id]?.match ?? 0) >= target;
      },
      timeoutMs,
      `the new member to catch up to index ${target}`,
    );
  }

  /** Resolves once `holds` is true (checked after every Ready and tick). */
  until(holds: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.waits.until(holds, timeoutMs, what);
  }

  /** A leader hands leadership to its most caught-up voter; returns who, or undefined. */
  async handOffLeadership(): Promise<NodeId | undefined> {
    let to: NodeId | undefined;
    const err = await this.inLoop(() => (to = this.node.handOffLeadership()));
    if (err) throw err;
    return to;
  }

  /** Stops the loop, fails what is pending and closes the storage. The transport stays its owner's. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const err = new OperatorError(MEMBER_STOPPED);
    this.proposals.failAll(err);
    this.waits.failAll(err);
    if (!this.draining) this.closeStorage();
  }

  // ---- the loop ------------------------------------------------------------

  /** Runs one input, then every Ready it produced; inputs arriving meanwhile are queued. */
  private run(input: () => void): void {
    if (this.stopped) return;
    this.inbox.push(input);
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.inbox.length > 0 && !this.stopped) {
        this.inbox.shift()!();
        this.drain();
      }
    } catch (err) {
      // Storage that cannot persist: the node must not go on acknowledging anything.
      this.log.fatal({ err }, 'raft member stopped by an error in its loop');
      this.stop();
    } finally {
      this.draining = false;
      if (this.stopped) this.closeStorage();
    }
    if (this.removedBy && !this.stopped) {
      const reason = this.removedBy;
      this.stop();
      this.log.info({ reason }, 'this node was removed from the cluster');
      this.events.emit('removed', { reason });
    }
  }

  private inLoop(fn: () => void): Promise<Error | undefined> {
    return new Promise((resolve) => {
      if (!this.running) return resolve(new OperatorError(MEMBER_STOPPED));
      this.run(() => {
        try {
          fn();
          resolve(undefined);
        } catch (err) {
          resolve(err as Error);
        }
      });
    });
  }

  private drain(): void {
    while (!this.stopped && this.node.hasReady()) {
      const rd = this.node.ready();
      this.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
      for (const m of rd.messages) this.transport.send(m.to, 'raft', encodeMessage(m));
      if (rd.snapshot) {
        this.state.restore(rd.snapshot.data);
        this.syncPeers();
      }
      for (const e of rd.committedEntries) this.applyEntry(e);
      for (const r of rd.readStates) this.waits.readIndexKnown(r.context, r.index);
      this.node.advance(rd);
      if (rd.snapshot || rd.committedEntries.length > 0) this.events.emit('state', { applied: this.node.status().applied });
      if (rd.softState) this.softChanged(rd.softState);
      this.maybeSnapshot();
      this.waits.check(this.node.status().applied);
    }
  }

  private applyEntry(e: Entry): void {
    if (e.type === 'conf-change') {
      const change = decodeConfChange(e.data);
      this.state.applyConfChange(change);
      if (change.node === this.id && change.type === 'remove' && e.index > this.historyUntil) this.removedBy ??= 'applied';
      if (change.node === this.id && (change.type === 'add-learner' || change.type === 'add-voter')) this.addedAt = e.index;
      // The removed member may never hear this commit (the leader stops talking to it), so tell it.
      if (change.type === 'remove' && change.node !== this.id && this.soft.role === 'leader') {
        this.transport.send(change.node, 'control', encodeControl({ type: 'removed', id: change.node, index: e.index }));
      }
      this.events.emit('membership', { index: e.index, change });
      this.syncPeers();
      if (this.soft.role === 'leader') this.sendClusterView();
      return;
    }
    const result = this.state.applyEntry(e);
    if (!result) return;
    this.events.emit('applied', { index: e.index, result });
    if (this.proposals.settle(result)) this.sendHeadProposal(true);
  }

  private maybeSnapshot(): void {
    const applied = this.node.status().applied;
    if (applied - this.storage.firstIndex() + 1 <= this.o.snapshotEntries) return;
    this.storage.createSnapshot(applied, this.node.confState(), this.state.snapshot());
    this.storage.compact(applied - this.o.snapshotKeep);
    this.log.debug({ index: applied }, 'raft log compacted into a snapshot');
  }

  private softChanged(soft: SoftState): void {
    const prior = this.soft;
    this.soft = soft;
    if (soft.role !== prior.role) this.roleSince = new Date();
    this.log.info({ role: soft.role, leader: soft.leader, term: this.node.status().term }, 'raft role or leader changed');
    this.events.emit('role', { role: soft.role as Role, leader: soft.leader, term: this.node.status().term, at: this.roleSince });
    // A proposal forwarded to a leader that died is lost with it: offer it to the new one.
    if (soft.leader !== prior.leader && soft.leader !== '') this.sendHeadProposal(true);
    if (soft.role === 'leader') this.sendClusterView();
  }

  private sendHeadProposal(force: boolean): void {
    const head = this.proposals.head();
    if (!head || this.soft.leader === '') return;
    if (!force && head.sentAt !== null && Date.now() - head.sentAt < this.o.retryMs) return;
    head.sentAt = Date.now();
    try {
      this.node.propose(head.data);
    } catch (err) {
      // No leader or a leadership transfer: the retry timer offers it again.
      if (!(err instanceof ProposalDroppedError)) throw err;
    }
  }

  private onTick(): void {
    this.ticks++;
    this.run(() => {
      this.node.tick();
      this.sendHeadProposal(false);
      if (this.soft.role === 'leader' && this.ticks % this.o.viewTicks === 0) this.sendClusterView();
    });
    this.waits.check(this.node.status().applied);
  }

  private onFrame(from: PeerId, kind: FrameKind, payload: Uint8Array): void {
    if (!this.running) return;
    this.activity.frame(from);
    if (kind === 'raft') {
      const m = decodeRaftFrame(from, this.id, payload);
      if (typeof m === 'string') this.log.warn({ peer: from, problem: m }, 'dropped a raft frame');
      else this.run(() => this.node.step(m));
      return;
    }
    if (kind !== 'control') return;
    let c: ControlMessage;
    try {
      c = decodeControl(payload);
    } catch {
      return; // the cluster service logs malformed control frames
    }
    if (c.type === 'cluster-view') this.activity.acceptView(from, c.term, c.members);
    else if (c.type === 'removed' && c.id === this.id && this.inConfiguration() && c.index > Math.max(this.addedAt, this.historyUntil) && isMember(this.conf(), from)) {
      this.run(() => (this.removedBy ??= 'notice'));
    }
  }

  private onLinkDown(peer: PeerId): void {
    if (!this.running) return;
    this.activity.linkDown(peer);
    if (peer === this.soft.leader) this.onLeaderLinkLost();
  }

  private onLeaderLinkLost(): void {
    this.log.info({ event: 'leader_link_lost', leader: this.soft.leader }, 'link to the leader closed');
    afterLeaderLinkLost({
      forgetLeader: () => this.run(() => this.node.forgetLeader()),
      campaignIfLeaderless: () => {
        const s = this.node.status();
        if (this.running && s.leader === '' && s.role === 'follower') this.run(() => this.node.campaign());
      },
    });
  }

  private sendClusterView(): void {
    const s = this.node.status();
    if (s.role === 'leader') broadcastControl(this.transport, this.id, s.conf, clusterView(this.id, s, this.activity));
  }

  private syncPeers(): void {
    // The transport keeps links with every member of the applied configuration.
    const { peers, unusable } = peerEndpoints(this.state, this.id);
    for (const m of unusable) this.log.warn({ peer: m.id, cluster: m.cluster }, 'member has no usable cluster endpoint');
    this.transport.setPeers(peers);
  }

  private closeStorage(): void {
    if (this.storageClosed) return;
    this.storageClosed = true;
    (this.storage as RaftStorage & { close?: () => void }).close?.();
  }
}

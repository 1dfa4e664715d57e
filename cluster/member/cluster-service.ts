/**
 * `xmpp cluster initialize | join | status | remove | leave` on one node
 * (ClusterControl): owns the peer transport, the RaftMember while the node is
 * a member, and the switch between the node's local configuration and the
 * replicated one. Control requests that reach a member which is not the
 * leader are relayed to the leader; the leader carries them out one at a time
 * (leader-requests.ts). Every refusal is one OperatorError with the
 * reference's words, and changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { OperatorError } from '../../src/base/operator-error.js';
import { SerialQueue } from '../../src/base/serial-queue.js';
import { silentLogger, type Logger } from '../../src/observability/logger.js';
import { NO_QUORUM, NOT_CLUSTERED, NOT_MEMBER, type ClusterControl, type ClusterStatusView, type JoinOutcome, type JoinTarget } from '../../src/node/cluster-control.js';
import type { NodeConfiguration } from '../../src/node/configuration.js';
import type { ZoneMember } from '../../src/dns/zone.js';
import { bootstrapStorage } from '../raft/bootstrap.js';
import { FileStorage } from '../raft/storage/file-storage.js';
import { encodeMemberInfo } from '../state/member-info.js';
import { formatEndpoint, type FrameKind, type PeerId, type Transport } from '../transport/transport.js';
import type { ClusterHost, ClusterServiceOptions } from './cluster-host.js';
import { clusterStatusView } from './cluster-status-view.js';
import { ControlDecodeError, decodeControl, type ControlMessage } from './control-messages.js';
import { ControlRouter, type ControlReply, type ControlRequest } from './control-router.js';
import { dialProblem, resolvePeer, storedMembership } from './cluster-service-support.js';
import { admitJoiner, LeaderMovedError, removeMember, type LeaderTimeouts } from './leader-requests.js';
import { handOffLeadership, type HandOffOutcome } from './leader-handoff.js';
import { MemberListeners, type MemberEvents } from './member-events.js';
import { RaftMember } from './raft-member.js';
import { ReplicatedConfiguration } from './replicated-configuration.js';
import { copyOf, seedCommand, writeCopy } from './standalone-copy.js';
import { zoneMembers } from './zone-members.js';

export type { ClusterHost, ClusterHostSettings, ClusterServiceOptions } from './cluster-host.js';
export class ClusterService implements ClusterControl {
  private member: RaftMember | undefined;
  private config: ReplicatedConfiguration | undefined;
  private transport: Transport | undefined;
  private joined = false;
  private finishing: Promise<void> | undefined;
  private readonly router: ControlRouter;
  private readonly listeners = new MemberListeners();
  private readonly ops = new SerialQueue();
  private readonly leaderOps = new SerialQueue();
  private readonly log: Logger;
  private readonly timeouts: LeaderTimeouts & { dialMs: number; joinMs: number };

  constructor(
    private readonly host: ClusterHost,
    private readonly options: ClusterServiceOptions = {},
  ) {
    this.log = (host.logger ?? silentLogger()).child({ module: 'cluster' });
    this.router = new ControlRouter(() => this.transport, this.log);
    const { changeTimeoutMs: changeMs = 10_000, catchUpTimeoutMs: catchUpMs = 30_000, dialTimeoutMs: dialMs = 5_000, joinTimeoutMs: joinMs = 60_000 } = options;
    this.timeouts = { changeMs, catchUpMs, quorumMs: Math.min(changeMs, 3_000), dialMs, joinMs };
  }

  /** At process start: a node whose Raft storage holds a configuration with itself in it resumes membership. */
  static async open(host: ClusterHost, options: ClusterServiceOptions = {}): Promise<ClusterService> {
    const service = new ClusterService(host, options);
    if (storedMembership(host.raftDir, host.nodeId)) await service.resume();
    return service;
  }

  isMember(): boolean {
    return this.joined && this.member?.running === true;
  }

  /** The leader this node knows now, if any. */
  leaderId(): string | undefined {
    return (this.member?.running && this.member.leader()) || undefined;
  }

  /** Ids of every member (voters and learners), this node included; empty when not a member. */
  memberIds(): string[] {
    return this.isMember() ? this.member!.state.members().map((m) => m.id) : [];
  }

  memberCount(): number {
    return this.isMember() ? this.member!.state.members().length : 0;
  }

  zoneMembers(): ZoneMember[] {
    return this.isMember() ? zoneMembers(this.member!.status(), this.options.member) : [];
  }

  /** Role and leader changes, and applied membership changes, of whichever member loop runs now. */
  on<E extends 'role' | 'membership'>(event: E, handler: MemberEvents[E]): () => void {
    return this.listeners.on(event, handler);
  }

  /** The replicated configuration while this node is a member. */
  configuration(): NodeConfiguration | undefined {
    return this.isMember() ? this.config : undefined;
  }

  /** `xmpp-cluster backup`: the applied state and its index, read together (one synchronous step of the loop); undefined when not a member. */
  appliedState(): { index: number; state: Uint8Array } | undefined {
    return this.isMember() ? { index: this.member!.raftStatus().applied, state: this.member!.state.snapshot() } : undefined;
  }

  async status(): Promise<ClusterStatusView> {
    const m = this.requireMember();
    const certs = this.host.settings().certs;
    return clusterStatusView(m.status(), { keyFile: certs?.key ?? null, certificateFile: certs?.cert ?? null, trust: this.config!.trust() });
  }

  initialize(): Promise<void> {
    return this.ops.run(async () => {
      const local = this.host.localConfiguration();
      this.checkCanCluster(local, true);
      rmSync(this.host.raftDir, { recursive: true, force: true });
      const storage = FileStorage.open({ dir: this.host.raftDir });
      bootstrapStorage(storage, [{ id: this.host.nodeId, context: encodeMemberInfo(this.selfInfo()) }]);
      storage.close();
      try {
        const member = await this.startMember();
        member.campaign();
        await member.until(() => member.isLeader(), this.timeouts.changeMs, 'this node to lead its new cluster');
        await member.propose(seedCommand(local, this.host.nodeId), this.timeouts.changeMs);
        await this.becomeMember(member);
        this.log.info({ node: this.host.nodeId }, 'initialized a one-member cluster');
      } catch (err) {
        await this.abandon();
        throw err;
      }
    });
  }

  join(target: JoinTarget): Promise<JoinOutcome> {
    return this.ops.run(async () => {
      const local = this.host.localConfiguration();
      this.checkCanCluster(local, false);
      const endpoint = { host: target.host, port: target.port };
      const transport = await this.ensureTransport();
      let peer: PeerId;
      try {
        peer = (await transport.dial(endpoint, this.timeouts.dialMs)).id;
      } catch (err) {
        await this.abandon();
        throw new OperatorError(dialProblem(err, formatEndpoint(endpoint)));
      }
      const rid = randomUUID();
      const request: ControlMessage = {
        type: 'join-request',
        rid,
        joiner: { id: this.host.nodeId, ...this.selfInfo() },
        domain: local.domain(),
        callbridges: local.callbridges().map((c) => ({ name: c.name, secret: c.secret })),
      };
      try {
        const reply = await this.awaitReply(rid, peer, request, this.timeouts.joinMs, (r) => {
          if (r.type === 'join-admitted' && !this.member) void this.startFreshMember(r.index);
        });
        const member = this.member;
        if (!member) throw new OperatorError('the cluster accepted the join but never admitted this node');
        await member.until(() => member.conf().voters.includes(this.host.nodeId), this.timeouts.joinMs, 'this node to apply its promotion to voter');
        await this.becomeMember(member);
        const result = reply !== 'ended' && reply.type === 'join-result' && reply.ok ? reply : undefined; // the leader's word: our view of who leads may lag
        const outcome = { peers: result?.peers ?? member.state.members().length, leader: result?.leader || (member.status().members.find((m) => m.leader)?.component ?? '') };
        this.log.info(outcome, 'joined the cluster');
        return outcome;
      } catch (err) {
        await this.abandon();
        throw err;
      }
    });
  }

  async remove(peer: string): Promise<string> {
    const m = this.requireMember();
    const entry = resolvePeer(m.state.members(), peer);
    if (!entry) throw new OperatorError(`no cluster member ${peer}`);
    if (m.state.members().length === 1) throw new OperatorError(`${peer} is the last member of the cluster; it cannot be removed`);
    if (entry.id === this.host.nodeId) return this.leave().then(() => peer);
    return this.ops.run(async () => {
      await this.requestRemoval(entry.id);
      return peer;
    });
  }

  leave(): Promise<void> {
    return this.ops.run(async () => {
      const m = this.requireMember();
      if (m.state.members().length > 1) {
        try {
          await this.requestRemoval(this.host.nodeId);
        } catch (err) {
          // The removal committed and this node already saw it: the reply is moot.
          if (!this.finishing) throw err;
        }
      }
      await this.finishStandalone();
    });
  }

  resetMembership(): Promise<void> {
    return this.ops.run(async () => {
      const was = this.isMember();
      await this.abandon();
      if (was) await this.host.useConfiguration(this.host.localConfiguration()); // reset then clears it
      this.log.info({ node: this.host.nodeId, wasMember: was }, 'reset: cluster membership and raft storage removed');
    });
  }

  /** SIGTERM, before close(): a leader hands leadership off and waits for its successor; a follower for a leader (leader-handoff.ts). */
  handOffLeadership(timeoutMs: number, log: Logger = this.log): Promise<HandOffOutcome> {
    return handOffLeadership(this.isMember() ? this.member : undefined, timeoutMs, log);
  }

  /** Process shutdown: stops the loop and the links; membership stays on disk for the next start. */
  async close(): Promise<void> {
    this.config?.close();
    this.member?.stop();
    this.member = undefined;
    this.joined = false;
    this.router.clear();
    const t = this.transport;
    this.transport = undefined;
    await t?.close();
  }

  // ---- membership lifecycle ----------------------------------------------
  private async resume(): Promise<void> {
    const member = await this.startMember();
    await this.becomeMember(member);
    this.log.info({ node: this.host.nodeId }, 'resumed cluster membership from raft storage');
  }

  private async startMember(historyUntil = 0): Promise<RaftMember> {
    const transport = await this.ensureTransport();
    const member = new RaftMember({ ...this.options.member, logger: this.log, id: this.host.nodeId, transport, dir: this.host.raftDir, historyUntil });
    member.on('removed', () => void this.finishStandalone().catch((err: unknown) => this.log.error({ err }, 'could not go standalone after removal')));
    member.on('role', (e) => this.listeners.emit('role', e));
    member.on('membership', (e) => this.listeners.emit('membership', e));
    this.member = member;
    this.finishing = undefined;
    member.start();
    return member;
  }

  /** The leader admitted this joiner: it starts its loop on empty storage (a wiped log must never answer as an old voter). */
  private async startFreshMember(historyUntil: number): Promise<void> {
    rmSync(this.host.raftDir, { recursive: true, force: true });
    await this.startMember(historyUntil);
  }

  private async becomeMember(member: RaftMember): Promise<void> {
    this.config = new ReplicatedConfiguration(member, { proposeTimeoutMs: this.timeouts.changeMs });
    this.joined = true;
    await this.host.useConfiguration(this.config);
  }

  /** A failed initialize or join: no loop, no links, no raft state left behind. */
  private async abandon(): Promise<void> {
    this.member?.stop();
    this.member = undefined;
    this.config?.close();
    this.config = undefined;
    this.joined = false;
    const t = this.transport;
    this.transport = undefined;
    await t?.close();
    rmSync(this.host.raftDir, { recursive: true, force: true });
  }

  /** After leave or removal: a standalone node holding a copy of the replicated settings, clustering disabled. */
  private finishStandalone(): Promise<void> {
    this.finishing ??= (async () => {
      const m = this.member;
      const copy = m ? copyOf(m.state, this.host.nodeId, this.config?.dnsAsMember()) : undefined;
      await this.abandon();
      const local = this.host.localConfiguration();
      if (copy) await writeCopy(local, copy);
      await this.host.disableClustering();
      await this.host.useConfiguration(local);
      this.log.info({ node: this.host.nodeId }, 'this node is standalone again with a copy of the cluster configuration');
    })();
    return this.finishing;
  }

  // ---- requests ------------------------------------------------------------
  /** Removes `target` through the leader, following leadership when the leader itself is the target. */
  private async requestRemoval(target: string): Promise<void> {
    const deadline = Date.now() + this.timeouts.joinMs;
    for (;;) {
      const m = this.requireMember();
      const leader = m.leader();
      if (leader === '') throw new OperatorError(NO_QUORUM);
      let moved = false;
      if (m.isLeader()) {
        try {
          await this.leaderOps.run(() => removeMember(m, target, this.timeouts));
          return;
        } catch (err) {
          if (!(err instanceof LeaderMovedError)) throw err;
          moved = true;
        }
      } else {
        const rid = randomUUID();
        const reply = await this.awaitReply(rid, leader, { type: 'member-request', rid, op: 'remove', target }, this.timeouts.changeMs, () => undefined, target === this.host.nodeId);
        if (reply === 'ended' || (reply.type === 'member-result' && reply.ok)) return;
        if (reply.type !== 'member-result' || reply.retry !== 'leader-moved') throw new OperatorError(reply.type === 'member-result' && !reply.ok ? reply.error : 'unexpected reply');
        moved = true;
      }
      if (moved) {
        const left = Math.max(1, deadline - Date.now());
        await m.until(() => m.leader() !== '' && m.leader() !== leader, left, 'a new leader after the handover');
      }
    }
  }

  /** A request and its final reply; this node's own removal also ends the wait when `untilRemoved`. */
  private awaitReply(rid: string, to: PeerId, request: ControlMessage, timeoutMs: number, progress: (reply: ControlReply) => void, untilRemoved = false) {
    const m = this.member;
    const endEarly = untilRemoved && m ? (end: () => void) => m.on('removed', end) : undefined;
    return this.router.request(rid, to, request, timeoutMs, progress, endEarly);
  }

  private onControl(from: PeerId, kind: FrameKind, payload: Uint8Array): void {
    if (kind !== 'control') return;
    let msg: ControlMessage;
    try {
      msg = decodeControl(payload);
    } catch (err) {
      if (!(err instanceof ControlDecodeError)) throw err;
      this.log.warn({ peer: from, problem: err.message }, 'dropped a malformed control frame');
      return;
    }
    switch (msg.type) {
      case 'cluster-view':
      case 'removed':
        return; // the member loop reads these
      case 'join-admitted':
      case 'join-result':
      case 'member-result':
        return this.router.reply(from, msg);
      case 'join-request':
      case 'member-request':
        return this.onRequest(from, msg);
    }
  }

  private onRequest(from: PeerId, req: ControlRequest): void {
    const m = this.member;
    const refuse = (error: string) =>
      this.router.send(from, req.type === 'join-request' ? { type: 'join-result', rid: req.rid, ok: false, error } : { type: 'member-result', rid: req.rid, ok: false, error });
    if (!m || !this.isMember()) return void refuse(`${this.host.nodeName} is not a member of a cluster`);
    if (!m.isLeader()) {
      const leader = m.leader();
      if (leader === '' || !this.router.relay(from, req, leader)) refuse(NO_QUORUM);
      return;
    }
    void this.leaderOps.run(async () => {
      try {
        if (req.type === 'join-request') {
          const admitted = (index: number) => void this.router.send(from, { type: 'join-admitted', rid: req.rid, index });
          const r = await admitJoiner(m, req, this.timeouts, this.log, admitted);
          this.router.send(from, { type: 'join-result', rid: req.rid, ok: true, peers: r.peers, leader: r.leader });
        } else {
          const name = await removeMember(m, req.target, this.timeouts);
          this.router.send(from, { type: 'member-result', rid: req.rid, ok: true, name });
        }
      } catch (err) {
        if (err instanceof LeaderMovedError) {
          this.router.send(from, { type: 'member-result', rid: req.rid, ok: false, error: err.message, retry: 'leader-moved' });
        } else {
          this.log.info({ rid: req.rid, type: req.type, problem: (err as Error).message }, 'membership request refused');
          refuse(err instanceof OperatorError ? err.message : `the cluster could not carry out the request: ${(err as Error).message}`);
        }
      }
    });
  }

  // ---- helpers ---------------------------------------------------------------
  private async ensureTransport(): Promise<Transport> {
    if (this.transport) return this.transport;
    const t = await this.host.createTransport(() => this.config?.trust() ?? this.host.localConfiguration().trust());
    t.on('frame', (from, kind, payload) => this.transport === t && this.onControl(from, kind, payload));
    this.transport = t;
    return t;
  }

  private checkCanCluster(local: NodeConfiguration, needCerts: boolean): void {
    const s = this.host.settings();
    if (!s.clusterEnabled) throw new OperatorError(NOT_CLUSTERED);
    if (needCerts && !s.certs) throw new OperatorError('no certificates set (xmpp certs <key-file> <crt-file>)');
    if (local.trust().kind === 'none') throw new OperatorError('no trust bundle set (xmpp cluster trust <bundle>)');
    if (this.isMember() || this.member) throw new OperatorError('this node is already a member of a cluster');
  }

  private requireMember(): RaftMember {
    if (!this.isMember()) throw new OperatorError(this.host.settings().clusterEnabled ? NOT_MEMBER : NOT_CLUSTERED);
    return this.member!;
  }
  private selfInfo(): { name: string; cluster: string; component: string } {
    return { name: this.host.nodeName, cluster: formatEndpoint(this.host.clusterEndpoint), component: this.host.componentEndpoint() };
  }
}

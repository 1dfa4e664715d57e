/**
 * Membership requests as the leader carries them out. A join is validated
 * in full before anything changes (quorum, domain, call-bridge secrets);
 * then call bridges only the joiner has are added through the log, any old
 * entry of the same node is removed (a node reset and joining again must
 * never appear twice, and its old voter entry must not vote with a wiped
 * log), the joiner is told to start its loop, added as a learner, caught up
 * (by snapshot if it is far behind) and promoted.
 */
import { OperatorError } from '../../src/base/operator-error.js';
import type { Logger } from '../../src/observability/logger.js';
import { NO_QUORUM } from '../../src/node/cluster-control.js';
import { ConfChangeRejectedError } from '../raft/errors.js';
import { addCallbridge, batch, setDomain, type ClusterCommand } from '../state/commands.js';
import { encodeMemberInfo } from '../state/member-info.js';
import type { ControlMessage } from './control-messages.js';
import type { RaftMember } from './raft-member.js';

type JoinRequest = Extract<ControlMessage, { type: 'join-request' }>;

export interface LeaderTimeouts {
  /** A proposal or membership change. */
  readonly changeMs: number;
  /** A learner catching up. */
  readonly catchUpMs: number;
  /** The ReadIndex round that shows the leader still has a quorum. */
  readonly quorumMs: number;
}

/** Thrown when the target was this leader: it handed leadership over, ask the new one. */
export class LeaderMovedError extends Error {
  override readonly name = 'LeaderMovedError';
}

/** Refuses, with the reference's words, what the cluster cannot accept; nothing has changed when it throws. */
export function joinProblem(member: RaftMember, req: JoinRequest): string | undefined {
  const state = member.state;
  const domain = state.domain();
  if (domain !== null && req.domain !== null && domain !== req.domain.toLowerCase()) {
    return `the cluster's domain is ${domain}, this node's is ${req.domain}; set xmpp domain ${domain} here, then join again`;
  }
  const cluster = new Map(state.callbridges().map((c) => [c.name.toLowerCase(), c.secret]));
  for (const cb of req.callbridges) {
    const secret = cluster.get(cb.name.toLowerCase());
    if (secret !== undefined && secret !== cb.secret) {
      return `callbridge ${cb.name} has a different secret here than in the cluster; fix it with xmpp callbridge del ${cb.name}, then join again`;
    }
  }
  if (req.joiner.id === member.id || req.joiner.cluster === state.members().find((m) => m.id === member.id)?.cluster) {
    return `${req.joiner.cluster} is this cluster's leader itself`;
  }
  return undefined;
}

export async function confirmQuorum(member: RaftMember, timeoutMs: number): Promise<void> {
  try {
    await member.readIndex(timeoutMs);
  } catch {
    throw new OperatorError(NO_QUORUM);
  }
  if (!member.isLeader()) throw new OperatorError(NO_QUORUM);
}

/**
 * Admits a joiner; `admitted` is called once its old entry (if any) is gone,
 * when it must start its Raft loop. Resolves with the member count and the
 * leader's component endpoint.
 */
export async function admitJoiner(
  member: RaftMember,
  req: JoinRequest,
  timeouts: LeaderTimeouts,
  log: Logger,
  admitted: (index: number) => void,
): Promise<{ peers: number; leader: string }> {
  await confirmQuorum(member, timeouts.quorumMs);
  const problem = joinProblem(member, req);
  if (problem) throw new OperatorError(problem);
  const j = req.joiner;

  const known = new Set(member.state.callbridges().map((c) => c.name.toLowerCase()));
  const seed: ClusterCommand[] = req.callbridges.filter((c) => !known.has(c.name.toLowerCase())).map((c) => addCallbridge(c.name, c.secret));
  if (member.state.domain() === null && req.domain !== null) seed.unshift(setDomain(req.domain));
  if (seed.length > 0) await member.propose(batch(seed), timeouts.changeMs);

  // The same node (by id), or one that lost its identity but serves at the same cluster endpoint: replace it, never list it twice.
  const old = member.state.members().filter((m) => m.id === j.id || m.cluster === j.cluster);
  for (const m of old) {
    log.info({ node: m.id, name: m.name }, 'removing the old entry of a node that joins again');
    await member.changeMembership({ type: 'remove', node: m.id }, timeouts.changeMs);
  }
  admitted(member.raftStatus().commit);
  const context = encodeMemberInfo({ name: j.name, cluster: j.cluster, component: j.component });
  await member.changeMembership({ type: 'add-learner', node: j.id, context }, timeouts.changeMs);
  try {
    await member.waitCaughtUp(j.id, timeouts.catchUpMs);
    await member.changeMembership({ type: 'promote', node: j.id }, timeouts.changeMs);
  } catch (err) {
    // A learner that never caught up must not stay in the configuration.
    log.warn({ node: j.id, err: (err as Error).message }, 'join failed after the learner was added; removing it');
    await member.changeMembership({ type: 'remove', node: j.id }, timeouts.changeMs).catch(() => undefined);
    throw err;
  }
  log.info({ node: j.id, name: j.name }, 'node joined the cluster as a voter');
  const leader = member.state.members().find((m) => m.id === member.id);
  return { peers: member.state.members().length, leader: leader?.component ?? '' };
}

/** Removes `target` (a member id) on the leader; the leader itself first hands leadership over (LeaderMovedError). */
export async function removeMember(member: RaftMember, target: string, timeouts: LeaderTimeouts): Promise<string> {
  await confirmQuorum(member, timeouts.quorumMs);
  const entry = member.state.members().find((m) => m.id === target);
  if (!entry) throw new OperatorError(`no cluster member ${target}`);
  if (member.state.members().length === 1) throw new OperatorError(`${entry.name || entry.component} is the last member of the cluster; it cannot be removed`);
  try {
    await member.changeMembership({ type: 'remove', node: target }, timeouts.changeMs);
  } catch (err) {
    if (err instanceof ConfChangeRejectedError && (err.reason === 'leader-transferring' || err.reason === 'not-leader')) {
      throw new LeaderMovedError('leadership is moving to another member; retry there');
    }
    if (err instanceof ConfChangeRejectedError) throw new OperatorError(err.message);
    throw err;
  }
  return entry.name || entry.component;
}

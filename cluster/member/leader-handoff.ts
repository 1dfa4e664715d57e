import type { Logger } from '../../src/observability/logger.js';
import type { RaftMember } from './raft-member.js';

/** What a member did before a graceful shutdown, and the leader it then knew. */
export interface HandOffOutcome {
  /** This node's part when asked: a leader hands off, a follower (or candidate) waits for a leader. */
  readonly was: 'leader' | 'follower' | 'not-member';
  /** The voter the leadership was handed to, when this node led and had another voter. */
  readonly to?: string;
  /** The leader known at the end ('' none): another member after a hand-off, this node when it is the only voter. */
  readonly leader: string;
}

/**
 * The core abandons a transfer that did not finish within one election
 * timeout (Raft §3.10; a few hundred ms at the default tick): past this long
 * without a new leader, the leader asks again (the transferee may have been
 * cut off).
 */
const RETRY_MS = 1000;

/**
 * Graceful shutdown (issue 16). A leader with another voter hands leadership
 * to the most caught-up one (Raft §3.10, TimeoutNow: no election timeout
 * waited out, no term without a leader) and waits until a leader other than
 * itself is known; a follower waits until some leader is known. Either way
 * the call bridges this node then sends away reach a member whose leader
 * routes for them at once. Bounded by `timeoutMs`: past it, the outcome says
 * which leader (if any) is known.
 */
export async function handOffLeadership(member: RaftMember | undefined, timeoutMs: number, log: Logger): Promise<HandOffOutcome> {
  if (!member?.running) return { was: 'not-member', leader: '' };
  const deadline = Date.now() + timeoutMs;
  const self = member.id;
  const was = member.isLeader() ? 'leader' : 'follower';
  if (was === 'leader' && !member.conf().voters.some((v) => v !== self)) return { was, leader: self };
  const successorKnown = () => !member.running || (!member.isLeader() && member.leader() !== '');
  let to: string | undefined;
  while (!successorKnown() && Date.now() < deadline) {
    if (member.isLeader()) {
      to = await member.handOffLeadership().catch(() => undefined);
      log.info({ event: 'leadership_transfer', to: to ?? 'none', term: member.raftStatus().term }, to ? 'handing leadership to the most caught-up voter' : 'no voter to hand leadership to yet');
    }
    await member.until(successorKnown, Math.max(1, Math.min(RETRY_MS, deadline - Date.now())), 'a new leader').catch(() => undefined);
  }
  const leader = member.running ? member.leader() : '';
  return to === undefined ? { was, leader } : { was, to, leader };
}

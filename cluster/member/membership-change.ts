/**
 * One membership change proposed on the leader, retried while the core says
 * "shortly": a change still in progress, no commit of the leader's own term
 * yet (the single-server change barrier), a learner still catching up. Any
 * other refusal (not-leader, leader-transferring, invalid) rejects with the
 * core's ConfChangeRejectedError for the caller to act on: leader-transferring
 * means "retry through the new leader". Resolves once this node applied it.
 */
import { OperatorError } from '../../src/base/operator-error.js';
import { ConfChangeRejectedError, type ConfChangeRejection } from '../raft/errors.js';
import { isMember, type ConfChange } from '../raft/membership.js';
import type { ConfState } from '../raft/messages.js';

const TRANSIENT: ReadonlySet<ConfChangeRejection> = new Set(['change-in-progress', 'no-current-term-commit', 'learner-behind']);

export interface MembershipLoop {
  /** Hands the change to the core inside the member's loop; resolves with the core's refusal, if any. */
  propose(change: ConfChange): Promise<Error | undefined>;
  /** The configuration as of the applied index. */
  conf(): ConfState;
  until(holds: () => boolean, timeoutMs: number, what: string): Promise<void>;
  running(): boolean;
  readonly retryDelayMs: number;
}

export async function changeMembership(loop: MembershipLoop, change: ConfChange, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const err = await loop.propose(change);
    if (err === undefined) break;
    if (!(err instanceof ConfChangeRejectedError) || !TRANSIENT.has(err.reason) || Date.now() >= deadline) throw err;
    await new Promise((r) => setTimeout(r, loop.retryDelayMs));
    if (!loop.running()) throw new OperatorError('this node stopped while a membership change was pending');
  }
  await loop.until(() => changeApplied(loop.conf(), change), Math.max(1, deadline - Date.now()), `the membership change (${change.type}) to apply`);
}

export function changeApplied(conf: ConfState, change: ConfChange): boolean {
  if (change.type === 'remove') return !isMember(conf, change.node);
  if (change.type === 'add-learner') return isMember(conf, change.node);
  return conf.voters.includes(change.node);
}

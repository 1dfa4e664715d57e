/**
 * Typed errors of the Raft core. Callers branch on the class and on `reason`,
 * never on message text.
 */

/** A proposal could not be accepted: there is no leader to take it, or leadership is being handed over. */
export class ProposalDroppedError extends Error {
  override readonly name = 'ProposalDroppedError';
  constructor(readonly reason: 'no-leader' | 'transferring-leadership' | 'not-a-member') {
    super(`raft proposal dropped: ${reason}; retry once a leader is known`);
  }
}

export type ConfChangeRejection =
  | 'not-leader'
  /** One membership change at a time: the previous one is not yet committed. */
  | 'change-in-progress'
  /** The leader has not yet committed an entry of its own term (single-server change safety barrier). */
  | 'no-current-term-commit'
  /** Removing the leader first hands leadership to another voter; retry on the new leader. */
  | 'leader-transferring'
  | 'learner-behind'
  | 'invalid';

export class ConfChangeRejectedError extends Error {
  override readonly name = 'ConfChangeRejectedError';
  constructor(
    readonly reason: ConfChangeRejection,
    detail: string,
  ) {
    super(`raft membership change rejected (${reason}): ${detail}`);
  }
}

/** The requested log position was compacted into a snapshot. */
export class LogCompactedError extends Error {
  override readonly name = 'LogCompactedError';
  constructor(readonly index: number) {
    super(`raft log index ${index} is compacted`);
  }
}

/** The requested log position is past the end of the stored log. */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
  constructor(readonly index: number) {
    super(`raft log index ${index} is not available`);
  }
}

/** A caller broke the Ready/advance contract or passed an impossible argument. */
export class RaftUsageError extends Error {
  override readonly name = 'RaftUsageError';
}

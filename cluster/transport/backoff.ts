/** How long to wait between dials to a peer that does not answer. */
export interface BackoffOptions {
  /** The first retry's wait, and the floor of every wait (ms). */
  minMs: number;
  /** The ceiling the doubling stops at (ms). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 50, maxMs: 2000 };

/**
 * Exponential backoff with full jitter: after `attempt` failures, a wait drawn
 * uniformly between minMs and min(maxMs, minMs * 2^attempt). The jitter keeps
 * members that lost the same peer at once from redialing it in lockstep.
 */
export function backoffDelay(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  return options.minMs + random() * Math.max(0, ceiling - options.minMs);
}

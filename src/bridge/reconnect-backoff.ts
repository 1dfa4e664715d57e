/**
 * How long a call bridge waits after a full pass over its SRV targets in
 * which none answered: 100 ms, doubling up to a cap of 3 s, each wait drawn
 * between half and all of the current step ("equal jitter"), so call bridges
 * that lost the same node do not come back in lockstep. Moving from one
 * target to the next never waits (ports-and-names.md: a call bridge moves to
 * another node when its connection drops); a lasting session resets it.
 * Pure: the randomness comes in.
 */

export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  /** A float in [0, 1); Math.random by default. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_INITIAL_MS = 100;
export const DEFAULT_BACKOFF_MAX_MS = 3000;

export class ReconnectBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private step: number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? DEFAULT_BACKOFF_MAX_MS);
    this.random = options.random ?? Math.random;
    this.step = this.initialMs;
  }

  /** The next wait, in [step/2, step]; the step then doubles, up to the cap. */
  next(): number {
    const step = this.step;
    this.step = Math.min(this.maxMs, this.step * 2);
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  reset(): void {
    this.step = this.initialMs;
  }
}

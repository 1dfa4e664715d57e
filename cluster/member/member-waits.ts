/**
 * Promises the member settles from inside its loop: linearizable reads
 * waiting for their ReadIndex answer and then for the applied index to reach
 * it, and conditions on the member's state (a membership change applied, a
 * learner caught up, a new leader), checked again after every Ready and tick.
 */
import { OperatorError } from '../../src/base/operator-error.js';

interface PendingRead {
  index: number | null;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Waiter {
  readonly holds: () => boolean;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export const READ_NOT_CONFIRMED = 'the cluster did not confirm the read in time (no quorum?)';

export class MemberWaits {
  private readonly reads = new Map<string, PendingRead>();
  private readonly waiters = new Set<Waiter>();

  /** Registers a read under its unique context; settle it with `readIndexKnown` and `check`. */
  addRead(context: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new OperatorError(READ_NOT_CONFIRMED));
      }, timeoutMs);
      this.reads.set(context, { index: null, resolve, reject, timer });
    });
  }

  failRead(context: string, err: Error): void {
    const r = this.reads.get(context);
    if (!r) return;
    this.reads.delete(context);
    clearTimeout(r.timer);
    r.reject(err);
  }

  readIndexKnown(context: string, index: number): void {
    const r = this.reads.get(context);
    if (r) r.index = index;
  }

  /**
   * An election (a leader just died) takes tens of milliseconds: a change or
   * read waits that out, up to `timeoutMs`, before it is refused for want of
   * a quorum.
   */
  async untilLeader(hasLeader: () => boolean, timeoutMs: number, refusal: () => Error): Promise<void> {
    try {
      await this.until(hasLeader, timeoutMs, 'a leader');
    } catch {
      throw refusal();
    }
  }

  /** Resolves `holds` once it is true; rejects with an OperatorError saying `what` at the timeout. */
  until(holds: () => boolean, timeoutMs: number, what: string): Promise<void> {
    try {
      if (holds()) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        holds,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new OperatorError(`timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Something changed: release reads whose index is applied, and conditions that now hold. */
  check(applied: number): void {
    for (const [context, r] of this.reads) {
      if (r.index === null || r.index > applied) continue;
      this.reads.delete(context);
      clearTimeout(r.timer);
      r.resolve();
    }
    for (const w of [...this.waiters]) {
      let holds: boolean;
      try {
        holds = w.holds();
      } catch (err) {
        // A condition that can no longer hold (e.g. leadership lost) says why.
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(err as Error);
        continue;
      }
      if (!holds) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  failAll(err: Error): void {
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(err);
    }
    this.reads.clear();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters.clear();
  }
}

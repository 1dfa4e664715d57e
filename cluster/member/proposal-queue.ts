/**
 * This node's proposals to the replicated state, one in flight at a time.
 * Each carries (client, seq) so that a retry applies once (the state remembers
 * the last seq per client and answers a retry with `duplicate`). Because the
 * state treats any seq at or below the last one applied as a duplicate, a
 * later proposal must never commit before an earlier one that is still being
 * retried: so the next proposal waits until the one ahead of it is settled
 * (applied, refused, or given up on at its timeout).
 */
import { performance } from 'node:perf_hooks';
import { OperatorError } from '../../src/base/operator-error.js';
import { NO_QUORUM } from '../../src/node/cluster-control.js';
import type { ApplyOutcome, ApplyResult } from '../state/cluster-state.js';
import type { ClusterCommand } from '../state/commands.js';
import { encodeProposal } from '../state/proposal.js';
import type { ProposalResult, ProposalTiming } from './raft-member-options.js';

export const NOT_CONFIRMED = 'the cluster did not confirm the change in time; it may still be applied';

export interface QueuedProposal {
  readonly seq: number;
  readonly data: Uint8Array;
  /** Wall-clock ms of the last time it was handed to the core; null before the first. */
  sentAt: number | null;
}

interface Entry extends QueuedProposal {
  readonly resolve: (o: ApplyOutcome) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class ProposalQueue {
  private nextSeq = 1;
  private readonly queue: Entry[] = [];

  constructor(readonly client: string) {}

  /** Queues a command; the promise settles with its first outcome here, or rejects at the timeout. */
  add(command: ClusterCommand, timeoutMs: number): { promise: Promise<ApplyOutcome>; first: boolean } {
    const seq = this.nextSeq++;
    const data = encodeProposal({ client: this.client, seq, command });
    let entry!: Entry;
    const promise = new Promise<ApplyOutcome>((resolve, reject) => {
      const timer = setTimeout(() => this.drop(entry, new OperatorError(NOT_CONFIRMED)), timeoutMs);
      entry = { seq, data, sentAt: null, resolve, reject, timer };
    });
    this.queue.push(entry);
    return { promise, first: this.queue.length === 1 };
  }

  /** The proposal to (re)send, if any. */
  head(): QueuedProposal | undefined {
    return this.queue[0];
  }

  /**
   * Settles the head with an applied result of ours. Returns true when the
   * head changed (the next proposal should be sent).
   */
  settle(result: ApplyResult): boolean {
    const head = this.queue[0];
    if (!head || result.client !== this.client || result.seq !== head.seq) return false;
    const o = result.outcome;
    if (o.status === 'rejected') this.finish(head, () => head.reject(new OperatorError(o.reason)));
    // A duplicate first seen here: it was applied (or refused) earlier, inside a snapshot this node installed.
    else if (o.status === 'duplicate' && o.rejected !== undefined) this.finish(head, () => head.reject(new OperatorError(o.rejected!)));
    else if (o.status === 'duplicate') this.finish(head, () => head.resolve({ status: 'applied' }));
    else this.finish(head, () => head.resolve(o));
    return true;
  }

  /** Rejects everything queued (the member stopped). */
  failAll(err: Error): void {
    for (const e of this.queue.splice(0)) {
      clearTimeout(e.timer);
      e.reject(err);
    }
  }

  get size(): number {
    return this.queue.length;
  }

  /** Set by the member when the head is dropped by its timeout, so it can send the next one. */
  onHeadChanged: () => void = () => undefined;

  private drop(entry: Entry, err: Error): void {
    const i = this.queue.indexOf(entry);
    if (i < 0) return;
    this.queue.splice(i, 1);
    entry.reject(err);
    if (i === 0) this.onHeadChanged();
  }

  private finish(head: Entry, settle: () => void): void {
    this.queue.shift();
    clearTimeout(head.timer);
    settle();
  }
}

/**
 * Runs one proposal (waiting for a leader included: the caller waits for that
 * too) and tells `report` how long it took and how it ended.
 */
export async function timedProposal<T>(run: () => Promise<T>, report: ((timing: ProposalTiming) => void) | undefined, stopped: string): Promise<T> {
  if (!report) return run();
  const started = performance.now();
  const done = (result: ProposalResult) => report({ seconds: (performance.now() - started) / 1000, result });
  try {
    const outcome = await run();
    done('applied');
    return outcome;
  } catch (err) {
    const failed = !(err instanceof OperatorError) || [NO_QUORUM, NOT_CONFIRMED, stopped].includes(err.message);
    done(failed ? 'failed' : 'refused');
    throw err;
  }
}

import type { QueuedStanza } from './outbound-queue.js';
import type { SentWindow } from './sent-window.js';

/**
 * The XEP-0199 pings of one pair's route as checkpoints (sent-window.ts):
 * each ping carries the mark of the last stanza written before it, and its
 * answer confirms everything up to that mark, since the peer reads a
 * stream in order (RFC 6120 §10.1).
 *
 * Pings still unanswered when a stream was lost are kept with what each
 * would confirm. A peer that was only frozen (a paused VM, SIGSTOP) reads
 * the dead socket when it runs again and answers them late, on its own
 * stream to us: what such a pong confirms was read there, so it leaves the
 * queue instead of being written a second time.
 */

export type PingAnswer =
  /** A ping of the current stream: the window is confirmed up to its mark. */
  | { readonly kind: 'current' }
  /** A ping of a lost stream: these stanzas were read there. */
  | { readonly kind: 'late'; readonly confirmed: ReadonlySet<QueuedStanza> };

export class RouteCheckpoints {
  /** Outstanding pings on the current stream: id → the SentWindow mark they confirm. */
  private readonly pings = new Map<string, number>();
  private late = new Map<string, ReadonlySet<QueuedStanza>>();

  constructor(private readonly window: SentWindow) {}

  /** Pings of the current stream not answered yet. */
  get outstanding(): number {
    return this.pings.size;
  }

  /** A ping with `id` is written now, after everything in the window. */
  sent(id: string): void {
    this.pings.set(id, this.window.mark());
  }

  /** The answer to ping `id`, or undefined when it answers none of ours. */
  answer(id: string): PingAnswer | undefined {
    const mark = this.pings.get(id);
    if (mark !== undefined) {
      // The peer reads in order: this pong answers every earlier ping too.
      for (const [other, m] of this.pings) if (m <= mark) this.pings.delete(other);
      this.window.confirm(mark);
      return { kind: 'current' };
    }
    const confirmed = this.late.get(id);
    if (confirmed === undefined) return undefined;
    // Marks grow with each ping: an earlier ping's stanzas are all in this one's.
    for (const [other, set] of this.late) if ([...set].every((s) => confirmed.has(s))) this.late.delete(other);
    return { kind: 'late', confirmed };
  }

  /** The stream ended; `lost`: it may not have delivered what it was given, so its pings may still be answered late. Call before emptying the window. */
  streamEnded(lost: boolean): void {
    this.late = new Map();
    if (lost) for (const [id, mark] of this.pings) this.late.set(id, new Set(this.window.upTo(mark)));
    this.pings.clear();
  }

  /** What waited was written on a new stream: a late pong for the lost one can no longer keep it from being sent twice. */
  rewritten(): void {
    this.late.clear();
  }

  /** A new stream starts with no ping out. */
  reset(): void {
    this.pings.clear();
  }
}

import type { QueuedStanza, Undelivered } from './outbound-queue.js';

/**
 * The callbacks of Route.deliverSettled (src/router/router.ts) for one
 * remote domain's route: each runs once, when its stanza is written to an
 * authenticated stream, bounced or dropped, and never while it only waits
 * for the stream. A cluster leader confirms to the origin member then.
 */
export class SettleWaiters {
  private readonly waiting = new Map<QueuedStanza, () => void>();

  add(stanza: QueuedStanza, settled: () => void): void {
    this.waiting.set(stanza, settled);
  }

  /** The stanza was written, bounced or dropped. */
  settle(stanza: QueuedStanza): void {
    if (this.waiting.size === 0) return;
    const settled = this.waiting.get(stanza);
    if (settled === undefined) return;
    this.waiting.delete(stanza);
    settled();
  }

  /** Everything that left without being written. */
  settleAll(what: Undelivered): void {
    if (this.waiting.size === 0) return;
    for (const b of what.bounces) this.settle(b.stanza);
    for (const d of what.dropped) this.settle(d);
  }
}

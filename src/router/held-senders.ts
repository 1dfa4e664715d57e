import type { Route } from './router.js';

/**
 * Senders held back until the route they filled drains: the back-pressure
 * between two routes, whatever kinds they are. Every router implementation
 * uses it, so each (sender, target) pair is held once and released once.
 */
export class HeldSenders {
  /** By congested target: the senders waiting for it. */
  private readonly waiting = new Map<Route, Set<Route>>();

  /** `origin` filled `target`'s queue: it stops being read until `target` drains or ends. */
  holdUntilDrained(origin: Route, target: Route): void {
    // A route that fills its own queue holds itself (Route.deliver).
    if (origin === target) return;
    let senders = this.waiting.get(target);
    if (senders === undefined) {
      senders = new Set();
      this.waiting.set(target, senders);
      target.onDrained(() => this.drained(target));
    }
    if (senders.has(origin)) return;
    senders.add(origin);
    origin.hold(target);
  }

  private drained(target: Route): void {
    const senders = this.waiting.get(target);
    this.waiting.delete(target);
    for (const origin of senders ?? []) origin.release(target);
  }
}

import { HeldSenders } from '../../src/router/held-senders.js';
import type { Route } from '../../src/router/router.js';
import type { PeerId } from '../transport/transport.js';
import type { DedupWindow } from './dedup-window.js';
import type { OriginEntry } from './origin-buffer.js';
import type { PeerOutbox } from './peer-outbox.js';

export interface RouteWriterContext {
  readonly self: PeerId;
  readonly dedup: DedupWindow;
  readonly outbox: PeerOutbox;
  /** A stanza of this member's own sessions, still unconfirmed, or undefined. */
  localEntry(epoch: string, seq: number): OriginEntry | undefined;
  /** Confirms a stanza of this member's own sessions. */
  settleLocal(epoch: string, seq: number): void;
}

/**
 * The last step of a routed stanza, on the member whose route takes it (the
 * holder of a call bridge's session, or the leader for a remote domain):
 * drop a copy already written, write, and confirm to the origin.
 *
 * Back-pressure: when the route is over its mark, a sender on this member is
 * held until it drains (HeldSenders, exactly as LocalRouter); for a sender on
 * another member the confirmation itself waits until the route drains. The
 * origin's bounded buffer then fills and holds the sender there, so a slow
 * call bridge costs at most one origin window per member, never a queue
 * without end. The confirmation still comes: a route that ends counts as
 * drained.
 */
export class RouteWriter {
  private readonly held = new HeldSenders();
  /** Routes over their mark, with the confirmations waiting for them to drain. */
  private readonly congested = new Map<Route, Array<() => void>>();

  constructor(private readonly ctx: RouteWriterContext) {}

  /** `destination` is the address (or remote domain) the copy check is kept for. */
  write(route: Route, raw: string, origin: PeerId, epoch: string, seq: number, destination: string): void {
    const { dedup } = this.ctx;
    if (dedup.isSettled(origin, epoch, destination, seq)) {
      // Confirm again: the first confirmation may be what the origin lost.
      this.confirm(route, true, origin, epoch, seq);
      return;
    }
    dedup.settle(origin, epoch, destination, seq);
    if (origin !== this.ctx.self && route.deliverSettled !== undefined) return this.writeSettled(route, raw, origin, epoch, seq);
    this.confirm(route, route.deliver(raw), origin, epoch, seq);
  }

  /**
   * A route that settles later (a remote domain's): the origin member is
   * confirmed once the stanza is written to the peer or bounced, so what a
   * dying leader only queued is still held by the origin and re-sent to the
   * next leader. Its own bounded window is the back-pressure meanwhile.
   */
  private writeSettled(route: Route, raw: string, origin: PeerId, epoch: string, seq: number): void {
    let now = true;
    let settledNow = false;
    const ok = route.deliverSettled!(raw, () => {
      if (now) settledNow = true;
      else this.ctx.outbox.ack(origin, epoch, seq);
    });
    now = false;
    if (settledNow) this.confirm(route, ok, origin, epoch, seq);
  }

  private confirm(route: Route, ok: boolean, origin: PeerId, epoch: string, seq: number): void {
    if (origin === this.ctx.self) {
      const entry = this.ctx.localEntry(epoch, seq);
      if (!ok && entry !== undefined) this.held.holdUntilDrained(entry.route, route);
      this.ctx.settleLocal(epoch, seq);
      return;
    }
    const waiting = this.congested.get(route);
    if (waiting !== undefined) {
      waiting.push(() => this.ctx.outbox.ack(origin, epoch, seq));
      return;
    }
    if (ok) {
      this.ctx.outbox.ack(origin, epoch, seq);
      return;
    }
    this.congested.set(route, [() => this.ctx.outbox.ack(origin, epoch, seq)]);
    route.onDrained(() => {
      const callbacks = this.congested.get(route) ?? [];
      this.congested.delete(route);
      for (const cb of callbacks) cb();
    });
  }
}

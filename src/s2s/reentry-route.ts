import type { HoldReason, Route, Stanza } from '../router/router.js';
import { routingDomain } from '../xmpp/jid.js';
import { queuedFromRaw } from './outbound-queue.js';

/**
 * The origin the router sees for a stanza that arrived over a server stream.
 * The router answers an origin through `origin.deliver` (a ping's pong, an
 * error, a bounce), but server streams carry one direction only (RFC 6120
 * §2.4, §8.1.1.1): nothing may be written back on the stream a stanza came
 * in on. So `deliver` never writes: it hands the answer back to the router
 * as a new stanza, which routes it to the remote domain over an outgoing
 * stream like any other. `hold`/`release` stop and resume reading the
 * incoming stream, so a congested call bridge slows the peer that fills it.
 */

export interface ReentryTarget {
  hold?(reason: HoldReason): void;
  release?(reason: HoldReason): void;
}

export class ReentryRoute implements Route {
  constructor(
    /** The remote domain the stream serves. */
    readonly address: string,
    private readonly reenter: (stanza: Stanza, origin: Route) => void,
    private readonly target: ReentryTarget,
    private readonly dropped: (raw: string, why: string) => void,
  ) {}

  /** Always true: the answer went back to the router, which holds its own senders. */
  deliver(raw: string): boolean {
    const head = queuedFromRaw(raw);
    const to = head.attrs.to;
    const toDomain = to === undefined ? null : routingDomain(to);
    if (toDomain === null) {
      // Nowhere to send it: the router addresses every answer, so this is not one of its own.
      this.dropped(raw, 'no valid to');
      return true;
    }
    if (head.name !== 'message' && head.name !== 'presence' && head.name !== 'iq') {
      this.dropped(raw, 'not a stanza');
      return true;
    }
    this.reenter({ name: head.name, attrs: head.attrs, raw, toDomain }, this);
    return true;
  }

  /** Never attached by address, so never replaced. */
  replaced(): void {}

  onDrained(callback: () => void): void {
    callback();
  }

  hold(reason: HoldReason): void {
    this.target.hold?.(reason);
  }

  release(reason: HoldReason): void {
    this.target.release?.(reason);
  }
}

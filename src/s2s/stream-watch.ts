import { StreamLiveness, type LivenessOptions } from './stream-liveness.js';

/**
 * The timer around one stream's StreamLiveness (stream-liveness.ts): one
 * timer at the machine's next deadline, re-armed after each tick. Events on
 * the stream (`heard`, `stanza`) only move deadlines later, so they touch no
 * timer: when the timer fires early the tick is `none` and it is re-armed at
 * the new deadline. Time comes from the injected clock, so tests advance it
 * instead of sleeping.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Real time. Timers are unref'd: a stream's watch must never keep the process alive by itself. */
export const REAL_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WatchHandlers {
  /** Send an XEP-0199 ping now (outgoing streams only). */
  ping(): void;
  /** Nothing heard since the ping: the stream is dead (reason ping timeout). */
  dead(): void;
  /** No stanza either way for the idle timeout (reason idle). */
  idle(): void;
}

export class StreamWatch {
  private readonly liveness: StreamLiveness;
  private timer: unknown;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    options: Partial<LivenessOptions>,
    private readonly handlers: WatchHandlers,
    /**
     * Whether to ping. An incoming stream is never pinged by us: RFC 6120
     * §2.4, it carries the peer's stanzas only, so a ping would have to go
     * out on our outgoing stream, which has its own watch; the peer watches
     * its own stream. Such a watch only closes it when idle.
     */
    pings: boolean,
  ) {
    this.liveness = new StreamLiveness(clock.now(), pings ? options : { ...options, idleBeforePingMs: Number.POSITIVE_INFINITY });
    this.arm();
  }

  get state(): StreamLiveness['state'] {
    return this.liveness.state;
  }

  /** The peer showed it is alive (any stanza from its domain, a pong). */
  heard(): void {
    this.liveness.heard(this.clock.now());
  }

  /** A ping of the caller's own went out (a checkpoint); the deadline it sets is later than the armed one, so no re-arming. */
  pinged(): void {
    this.liveness.pinged(this.clock.now());
  }

  /** A stanza (not a ping nor its answer) went this way on the stream. */
  stanza(direction: 'received' | 'sent'): void {
    this.liveness.stanza(this.clock.now(), direction);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.stopped) return;
    const deadline = this.liveness.nextDeadline();
    if (deadline === undefined) return;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, deadline - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const action = this.liveness.tick(this.clock.now());
    // Re-arm before acting: the handler may stop the watch (dead, idle).
    this.arm();
    if (action === 'ping') this.handlers.ping();
    else if (action === 'dead') this.handlers.dead();
    else if (action === 'idle') this.handlers.idle();
  }
}

import { performance } from 'node:perf_hooks';

/**
 * Whether the event loop has stalled, for `GET /healthz`: a timer that should
 * fire every `intervalMs` measures how late it fires. A request that arrived
 * during a stall is only answered after it, so the answer must remember it:
 * the worst delay of the last `windowMs` counts, and so does the time since
 * the timer last fired (the request may be read before the late timer runs).
 */

export interface LoopStallOptions {
  /** Stalled: a delay over this. Default 1 s. */
  readonly thresholdMs?: number;
  /** A stall is reported for this long after it ended. Default 10 s. */
  readonly windowMs?: number;
  /** Default 100 ms. */
  readonly intervalMs?: number;
}

export interface LoopHealth {
  readonly stalled: boolean;
  /** The worst delay seen in the window, or now since the last tick, in seconds. */
  readonly worstDelaySeconds: number;
  readonly thresholdSeconds: number;
}

export class LoopStallDetector {
  private readonly thresholdMs: number;
  private readonly windowMs: number;
  private readonly intervalMs: number;
  private last = performance.now();
  /** Worst delay of the current and the previous window, and when the current one began. */
  private current = 0;
  private previous = 0;
  private windowStart = this.last;
  private readonly timer: NodeJS.Timeout;

  constructor(options: LoopStallOptions = {}) {
    this.thresholdMs = options.thresholdMs ?? 1000;
    this.windowMs = options.windowMs ?? 10_000;
    this.intervalMs = options.intervalMs ?? 100;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // It watches the process; it never keeps one alive.
    this.timer.unref();
  }

  health(): LoopHealth {
    const now = performance.now();
    this.roll(now);
    const sinceTick = Math.max(0, now - this.last - this.intervalMs);
    const worst = Math.max(this.current, this.previous, sinceTick);
    return { stalled: worst > this.thresholdMs, worstDelaySeconds: worst / 1000, thresholdSeconds: this.thresholdMs / 1000 };
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const now = performance.now();
    const delay = Math.max(0, now - this.last - this.intervalMs);
    this.last = now;
    this.roll(now);
    if (delay > this.current) this.current = delay;
  }

  /** Two windows, so that a stall near a window's end still counts for a whole window. */
  private roll(now: number): void {
    if (now - this.windowStart < this.windowMs) return;
    const skipped = now - this.windowStart >= 2 * this.windowMs;
    this.previous = skipped ? 0 : this.current;
    this.current = 0;
    this.windowStart = now;
  }
}

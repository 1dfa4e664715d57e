import type { Logger } from '../observability/logger.js';

/**
 * Logs rate-limited DNS queries as one line per address per interval with
 * a count, never one per query: a flood is thousands of queries a second,
 * and a line each would carry it from the socket to the disk. The first
 * drop from a quiet address is logged at once, so a flood shows without
 * delay; the ones after it are counted and reported when the interval ends.
 * At most `maxAddresses` are named per interval, the rest summed in one line.
 */

const EVENT = 'dns_rate_limited';
const MESSAGE = 'dropped DNS queries over the rate limit from this address';

export const DEFAULT_RATE_LIMIT_LOG_MS = 10_000;

export class RateLimitLog {
  /** Drops since the last line, by address. */
  private counted = new Map<string, number>();
  private others = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = DEFAULT_RATE_LIMIT_LOG_MS,
    private readonly maxAddresses = 100,
  ) {}

  record(address: string): void {
    const dropped = this.counted.get(address);
    if (dropped !== undefined) {
      this.counted.set(address, dropped + 1);
      return;
    }
    if (this.counted.size >= this.maxAddresses) {
      this.others++;
    } else {
      this.counted.set(address, 0);
      this.log.warn({ module: 'dns', event: EVENT, peer: address, dropped: 1 }, MESSAGE);
    }
    this.schedule();
  }

  /** Writes what is still counted and stops the timer (the responder is closing). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.report();
    this.counted.clear();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.endInterval(), this.intervalMs);
    // A quiet process must be free to exit with a report still pending.
    this.timer.unref();
  }

  private endInterval(): void {
    this.timer = undefined;
    const active = this.report();
    // Addresses still flooding stay counted, so they keep to one line per interval.
    this.counted = new Map(active.map((address) => [address, 0]));
    if (this.counted.size > 0) this.schedule();
  }

  private report(): string[] {
    const active = [...this.counted].filter(([, dropped]) => dropped > 0);
    for (const [address, dropped] of active) {
      this.log.warn({ module: 'dns', event: EVENT, peer: address, dropped, intervalMs: this.intervalMs }, MESSAGE);
    }
    if (this.others > 0) {
      this.log.warn({ module: 'dns', event: EVENT, otherPeers: true, dropped: this.others, intervalMs: this.intervalMs }, 'dropped DNS queries over the rate limit from further addresses');
      this.others = 0;
    }
    return active.map(([address]) => address);
  }
}

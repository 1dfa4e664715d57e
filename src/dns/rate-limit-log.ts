import { CountedWarnings } from '../observability/counted-warnings.js';
import type { Logger } from '../observability/logger.js';

/**
 * Logs rate-limited DNS queries as one line per address per interval with
 * a count, never one per query (CountedWarnings: the first drop at once,
 * the rest counted).
 */

const EVENT = 'dns_rate_limited';
const MESSAGE = 'dropped DNS queries over the rate limit from this address';

export const DEFAULT_RATE_LIMIT_LOG_MS = 10_000;

export class RateLimitLog {
  private readonly warnings: CountedWarnings<string>;

  constructor(log: Logger, intervalMs = DEFAULT_RATE_LIMIT_LOG_MS, maxAddresses = 100) {
    this.warnings = new CountedWarnings<string>({
      log,
      intervalMs,
      maxKeys: maxAddresses,
      keyOf: (address) => address,
      line: (address, dropped, interval) => [{ module: 'dns', event: EVENT, peer: address, dropped, ...(interval === undefined ? {} : { intervalMs: interval }) }, MESSAGE],
      others: (dropped, interval) => [
        { module: 'dns', event: EVENT, otherPeers: true, dropped, intervalMs: interval },
        'dropped DNS queries over the rate limit from further addresses',
      ],
    });
  }

  record(address: string): void {
    this.warnings.record(address);
  }

  /** Writes what is still counted and stops the timer (the responder is closing). */
  stop(): void {
    this.warnings.stop();
  }
}

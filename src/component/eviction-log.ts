import { CountedWarnings } from '../observability/counted-warnings.js';
import type { Logger } from '../observability/logger.js';
import type { PreauthLimit } from './preauth-queue.js';

/**
 * Logs pre-auth evictions as one warn line per address and limit per
 * interval, not one per eviction (CountedWarnings): a flood evicts
 * thousands of connections a second, and a line each would carry the
 * attack from the listener to the log.
 */

const EVENT = 'too_many_unauthenticated';

interface Eviction {
  readonly address: string;
  readonly limit: PreauthLimit;
}

export class EvictionLog {
  private readonly warnings: CountedWarnings<Eviction>;

  constructor(log: Logger, intervalMs: number, maxAddresses = 100) {
    this.warnings = new CountedWarnings<Eviction>({
      log,
      intervalMs,
      maxKeys: maxAddresses,
      keyOf: (e) => `${e.limit} ${e.address}`,
      line: (e, evicted, interval) => [
        { event: EVENT, peer: e.address, limit: e.limit, evicted, ...(interval === undefined ? {} : { intervalMs: interval }) },
        describe(e.limit),
      ],
      others: (evicted, interval) => [
        { event: EVENT, otherPeers: true, evicted, intervalMs: interval },
        'closed the oldest unauthenticated connections to make room, from further addresses',
      ],
    });
  }

  record(address: string, limit: PreauthLimit): void {
    this.warnings.record({ address, limit });
  }

  /** Writes what is still counted and stops the timer (the listener is stopping). */
  stop(): void {
    this.warnings.stop();
  }
}

function describe(limit: PreauthLimit): string {
  return limit === 'address'
    ? 'closed the oldest unauthenticated connection from this address to make room for a new one'
    : 'closed the oldest unauthenticated connection on the server to make room for a new one';
}

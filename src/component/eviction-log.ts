import type { Logger } from '../observability/logger.js';
import type { PreauthLimit } from './preauth-queue.js';

/**
 * Logs pre-auth evictions as one warn line per address per interval, not
 * one per eviction: a flood evicts thousands of connections a second, and a
 * line each would carry the attack from the listener to the log (disk, log
 * shipping, the operator reading it).
 *
 * The first eviction from a quiet address is logged at once, so the start
 * of a flood shows without delay; the ones after it are counted, and when
 * the interval ends one line per address gives the count. A flood that goes
 * on gives one line per address per interval; an address with no eviction
 * for a whole interval is quiet again. At most `maxAddresses` addresses are
 * named per interval; a flood from more is summed in one extra line, so the
 * lines per interval stay bounded however many addresses take part.
 */

const EVENT = 'too_many_unauthenticated';

interface Counted {
  address: string;
  limit: PreauthLimit;
  /** Evictions since the last line for this address. */
  evicted: number;
}

export class EvictionLog {
  /** Addresses being counted, by `${limit} ${address}`. */
  private counted = new Map<string, Counted>();
  private othersEvicted = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs: number,
    private readonly maxAddresses = 100,
  ) {}

  record(address: string, limit: PreauthLimit): void {
    const key = `${limit} ${address}`;
    const counted = this.counted.get(key);
    if (counted) {
      counted.evicted++;
      return;
    }
    if (this.counted.size >= this.maxAddresses) {
      this.othersEvicted++;
    } else {
      this.counted.set(key, { address, limit, evicted: 0 });
      this.log.warn({ event: EVENT, peer: address, limit, evicted: 1 }, describe(limit));
    }
    this.schedule();
  }

  /** Writes what is still counted and stops the timer (the listener is stopping). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.report();
    this.counted.clear();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.endInterval(), this.intervalMs);
    // A quiet server must be free to exit with a report still pending.
    this.timer.unref();
  }

  private endInterval(): void {
    this.timer = undefined;
    const stillEvicting = this.report();
    // Addresses that evicted during the interval stay counted for the next
    // one, so a sustained flood keeps to one line per interval.
    this.counted = new Map(stillEvicting.map((c) => [`${c.limit} ${c.address}`, { ...c, evicted: 0 }]));
    if (this.counted.size > 0) this.schedule();
  }

  /** Logs the counts of this interval; returns the addresses that had any. */
  private report(): Counted[] {
    const active = [...this.counted.values()].filter((c) => c.evicted > 0);
    for (const c of active) {
      this.log.warn({ event: EVENT, peer: c.address, limit: c.limit, evicted: c.evicted, intervalMs: this.intervalMs }, describe(c.limit));
    }
    if (this.othersEvicted > 0) {
      this.log.warn({ event: EVENT, otherPeers: true, evicted: this.othersEvicted, intervalMs: this.intervalMs }, 'closed the oldest unauthenticated connections to make room, from further addresses');
      this.othersEvicted = 0;
    }
    return active;
  }
}

function describe(limit: PreauthLimit): string {
  return limit === 'address'
    ? 'closed the oldest unauthenticated connection from this address to make room for a new one'
    : 'closed the oldest unauthenticated connection on the server to make room for a new one';
}

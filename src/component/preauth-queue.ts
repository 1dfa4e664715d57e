/**
 * The connections that have not authenticated yet, oldest first, per source
 * address and in all, with a cap on each. A connection counts from accept
 * until its handshake succeeds or it ends: awaiting the stream header,
 * awaiting the handshake, and a failed handshake waiting out the auth
 * throttle's delay all hold a slot.
 *
 * When a cap is reached the oldest connection makes room for the new one,
 * never the other way round. A flood of idle connections from one address
 * then only pushes out its own older sockets, and a call bridge behind the
 * same NAT, which completes its handshake within milliseconds, gets in: it
 * would have to be outlived by `perAddress` newer connections from its
 * address (or `total` from anywhere) to lose its slot. Refusing the newest
 * (the rule this replaces) let 32 idle sockets keep every call bridge behind
 * one address out for as long as they were held.
 *
 * Every operation is O(1): Maps keep insertion order, so the first key is
 * the oldest, and nothing scans the sessions.
 */

export interface PreauthLimits {
  /**
   * Waiting connections from one address. 32: a CMS deployment has at most
   * a few dozen call bridges, each with one connection, and even all of them
   * behind one NAT reconnecting at once after a network blip fit, since each
   * leaves the count within milliseconds, when its handshake succeeds.
   */
  perAddress: number;
  /**
   * Waiting connections in all. 4096: far above what real call bridges ever
   * need at once, while a held flood of that many costs under 100 MB (about
   * 17 KB each with both ends of a loopback socket in one process: 4000
   * held took RSS from 63 to 132 MB) and stays well under the 65536 file
   * descriptors a service usually may open. A flood from many addresses is
   * then bounded in memory too, and still only pushes out the oldest.
   */
  total: number;
  /** Evictions are logged once per address per this interval, with a count (see EvictionLog). */
  logIntervalMs: number;
}

export const DEFAULT_PREAUTH_LIMITS: PreauthLimits = {
  perAddress: 32,
  total: 4096,
  logIntervalMs: 10_000,
};

/** Which cap made room: the address's own, or the one for all addresses. */
export type PreauthLimit = 'address' | 'total';

export interface Eviction<T> {
  item: T;
  address: string;
  limit: PreauthLimit;
}

export class PreauthQueue<T> {
  /** Every waiting item, oldest first, with its address. */
  private readonly all = new Map<T, string>();
  /** The same items by address, oldest first; an address with none has no entry. */
  private readonly byAddress = new Map<string, Set<T>>();

  constructor(private readonly limits: Pick<PreauthLimits, 'perAddress' | 'total'>) {
    // A cap of 0 leaves no room for the newcomer (and add() would loop on an
    // empty queue); the options come from code, so this is a programming error.
    if (!(limits.perAddress >= 1 && limits.total >= 1)) throw new RangeError('pre-auth caps must be at least 1');
  }

  get size(): number {
    return this.all.size;
  }

  /** Waiting items from `address`. */
  countFrom(address: string): number {
    return this.byAddress.get(address)?.size ?? 0;
  }

  /**
   * Adds `item` as the newest from `address`, and returns the items it
   * displaced (already removed), for the caller to close: the address's
   * oldest if its cap was reached, then the oldest of all if the total was.
   */
  add(address: string, item: T): Eviction<T>[] {
    const evicted: Eviction<T>[] = [];
    const own = this.byAddress.get(address);
    while (own && own.size >= this.limits.perAddress) {
      const oldest = own.values().next().value as T;
      this.remove(oldest);
      evicted.push({ item: oldest, address, limit: 'address' });
    }
    while (this.all.size >= this.limits.total) {
      const [oldest, from] = this.all.entries().next().value as [T, string];
      this.remove(oldest);
      evicted.push({ item: oldest, address: from, limit: 'total' });
    }
    this.all.set(item, address);
    let set = this.byAddress.get(address);
    if (!set) this.byAddress.set(address, (set = new Set()));
    set.add(item);
    return evicted;
  }

  /** Forgets `item` (it authenticated, or ended); nothing if it is not waiting. */
  remove(item: T): void {
    const address = this.all.get(item);
    if (address === undefined) return;
    this.all.delete(item);
    const set = this.byAddress.get(address)!;
    set.delete(item);
    // Addresses come and go with their connections, so the map stays as small as the queue.
    if (set.size === 0) this.byAddress.delete(address);
  }
}

/**
 * Per-source token buckets for UDP queries. UDP sources can be forged, so a
 * flood "from" one address may be aimed at it (reflection); dropping what
 * goes over the rate keeps us from being the gun, and from being flooded.
 * Pure: the caller passes the time in.
 */

export interface RateLimit {
  /** Tokens added per second: the sustained rate an address may query at. */
  readonly queriesPerSecond: number;
  /** Bucket size: the burst an idle address may send at once. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { queriesPerSecond: 200, burst: 400 };

/** Addresses tracked at most; forged sources must not grow the map without end. */
const DEFAULT_MAX_ADDRESSES = 10_000;

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  /** Least recently used first: each use moves a bucket to the end. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limit: RateLimit,
    private readonly maxAddresses = DEFAULT_MAX_ADDRESSES,
  ) {}

  /** Takes a token for one query from `address`; false when its bucket is empty. */
  allow(address: string, nowMs: number): boolean {
    let bucket = this.buckets.get(address);
    if (bucket) {
      this.buckets.delete(address);
      const refill = (Math.max(0, nowMs - bucket.atMs) / 1000) * this.limit.queriesPerSecond;
      bucket.tokens = Math.min(this.limit.burst, bucket.tokens + refill);
      bucket.atMs = nowMs;
    } else {
      if (this.buckets.size >= this.maxAddresses) this.evict(nowMs);
      bucket = { tokens: this.limit.burst, atMs: nowMs };
    }
    this.buckets.set(address, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get trackedAddresses(): number {
    return this.buckets.size;
  }

  /**
   * Forgets buckets that have refilled (a full bucket is the same as none),
   * then, if still full, the least recently used, so an address being
   * limited right now keeps its empty bucket.
   */
  private evict(nowMs: number): void {
    for (const [address, b] of this.buckets) {
      if (b.tokens + ((nowMs - b.atMs) / 1000) * this.limit.queriesPerSecond >= this.limit.burst) this.buckets.delete(address);
    }
    const target = Math.floor(this.maxAddresses * 0.9);
    for (const address of this.buckets.keys()) {
      if (this.buckets.size <= target) break;
      this.buckets.delete(address);
    }
  }
}

import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/dns/rate-limiter.js';

/** Token buckets per source address, time passed in. */

function allowed(limiter: RateLimiter, address: string, n: number, nowMs: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (limiter.allow(address, nowMs)) count++;
  return count;
}

describe('RateLimiter', () => {
  it('lets an idle address send a burst, then its rate', () => {
    const limiter = new RateLimiter({ queriesPerSecond: 10, burst: 20 });
    expect(allowed(limiter, '192.0.2.1', 100, 0)).toBe(20);
    expect(allowed(limiter, '192.0.2.1', 100, 500)).toBe(5);
    expect(allowed(limiter, '192.0.2.1', 100, 1500)).toBe(10);
  });

  it('refills no further than the burst', () => {
    const limiter = new RateLimiter({ queriesPerSecond: 10, burst: 20 });
    allowed(limiter, '192.0.2.1', 20, 0);
    expect(allowed(limiter, '192.0.2.1', 100, 3_600_000)).toBe(20);
  });

  it('keeps addresses apart', () => {
    const limiter = new RateLimiter({ queriesPerSecond: 1, burst: 3 });
    expect(allowed(limiter, '192.0.2.1', 10, 0)).toBe(3);
    expect(allowed(limiter, '192.0.2.2', 10, 0)).toBe(3);
  });

  it('tracks a bounded number of addresses, keeping the one being limited', () => {
    const limiter = new RateLimiter({ queriesPerSecond: 1, burst: 2 }, 100);
    allowed(limiter, 'flooder', 10, 0);
    for (let i = 0; i < 1000; i++) {
      limiter.allow(`forged-${i}`, 1);
      limiter.allow('flooder', 1);
    }
    expect(limiter.trackedAddresses).toBeLessThanOrEqual(100);
    expect(limiter.allow('flooder', 1)).toBe(false);
  });
});

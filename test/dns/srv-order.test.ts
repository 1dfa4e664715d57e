import { describe, expect, it } from 'vitest';
import { Mulberry32 } from '../../cluster/raft/prng.js';
import { orderByWeight, orderSrvRecords, serviceNotAvailable } from '../../src/dns/srv-order.js';
import type { SrvRecord } from '../../src/dns/zone.js';

/** RFC 2782 "Usage rules": the order a call bridge tries SRV targets in. */

const srv = (target: string, priority: number, weight: number, port = 5223): SrvRecord => ({ target, priority, weight, port });

function seeded(seed: number): () => number {
  const prng = new Mulberry32(seed);
  return () => prng.next();
}

/** How often each target comes first over `draws` seeded orderings. */
function firstShares(records: SrvRecord[], draws: number, seed: number): Record<string, number> {
  const random = seeded(seed);
  const counts: Record<string, number> = {};
  for (let i = 0; i < draws; i++) {
    const first = orderSrvRecords(records, random)[0]!.target;
    counts[first] = (counts[first] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / draws]));
}

describe('RFC 2782 priority', () => {
  it('tries lower priorities first whatever the weights', () => {
    const records = [srv('c', 20, 100), srv('a', 0, 0), srv('b', 10, 65535)];
    expect(orderSrvRecords(records, seeded(1)).map((r) => r.target)).toEqual(['a', 'b', 'c']);
  });

  it('never interleaves priorities over many seeded draws', () => {
    const records = [srv('p1a', 1, 10), srv('p0a', 0, 5), srv('p1b', 1, 0), srv('p0b', 0, 50), srv('p2', 2, 1), srv('p0c', 0, 0)];
    const random = seeded(7);
    for (let i = 0; i < 2000; i++) {
      const priorities = orderSrvRecords(records, random).map((r) => r.priority);
      expect(priorities).toEqual([0, 0, 0, 1, 1, 2]);
    }
  });
});

describe('RFC 2782 weight', () => {
  it('places every record exactly once', () => {
    const records = [srv('a', 0, 60), srv('b', 0, 30), srv('c', 0, 10), srv('d', 0, 0)];
    const random = seeded(3);
    for (let i = 0; i < 500; i++) {
      expect(orderByWeight(records, random).map((r) => r.target).sort()).toEqual(['a', 'b', 'c', 'd']);
    }
  });

  it('picks by the running sum: a draw of 0 takes the first, the top of the range the last', () => {
    const records = [srv('a', 0, 60), srv('b', 0, 30), srv('c', 0, 10)];
    // 0 → pick 0 → running sum 60 >= 0: a; then [b, c] sum 40, 0 → b.
    expect(orderByWeight(records, () => 0).map((r) => r.target)).toEqual(['a', 'b', 'c']);
    // Just under 1 → pick = sum → only the last running sum reaches it: c first, then b, then a.
    expect(orderByWeight(records, () => 0.999999).map((r) => r.target)).toEqual(['c', 'b', 'a']);
    // 0.7 of 101 → pick 70 → a's 60 < 70 <= 90: b first.
    expect(orderByWeight(records, () => 0.7)[0]!.target).toBe('b');
  });

  it('puts a first-chosen 60/30/10 about 60/30/10 % of the time over 20,000 draws', () => {
    const shares = firstShares([srv('a', 0, 60), srv('b', 0, 30), srv('c', 0, 10)], 20_000, 42);
    // The integer draw in [0, 100] gives 61/101, 30/101, 10/101.
    expect(shares.a).toBeCloseTo(0.6, 1);
    expect(Math.abs(shares.a! - 61 / 101)).toBeLessThan(0.02);
    expect(Math.abs(shares.b! - 30 / 101)).toBeLessThan(0.02);
    expect(Math.abs(shares.c! - 10 / 101)).toBeLessThan(0.02);
  });

  it('rarely puts a weight-0 record first when the others have weight', () => {
    const shares = firstShares([srv('a', 0, 60), srv('b', 0, 30), srv('c', 0, 10), srv('zero', 0, 0)], 20_000, 9);
    // Only a draw of exactly 0 of [0, 100] chooses it: about 1 %.
    expect(shares.zero).toBeGreaterThan(0);
    expect(shares.zero).toBeLessThan(0.03);
  });

  it('spreads records that all weigh 0 (the seeds’ "0 0" records) evenly', () => {
    const shares = firstShares([srv('n1', 0, 0), srv('n2', 0, 0), srv('n3', 0, 0)], 20_000, 5);
    for (const t of ['n1', 'n2', 'n3']) expect(Math.abs(shares[t]! - 1 / 3)).toBeLessThan(0.02);
  });

  it('replays the same order from the same seed', () => {
    const records = [srv('a', 0, 1), srv('b', 0, 2), srv('c', 0, 3), srv('d', 1, 0), srv('e', 1, 0)];
    const once = orderSrvRecords(records, seeded(11)).map((r) => r.target);
    expect(orderSrvRecords(records, seeded(11)).map((r) => r.target)).toEqual(once);
  });
});

describe('RFC 2782 target "."', () => {
  it('a single "." record means the service is not available: no targets', () => {
    expect(serviceNotAvailable([srv('.', 0, 0, 0)])).toBe(true);
    expect(orderSrvRecords([srv('.', 0, 0, 0)])).toEqual([]);
    // Node's resolver reports the root as "".
    expect(orderSrvRecords([srv('', 0, 0, 0)])).toEqual([]);
  });

  it('an empty answer has no targets and other records are kept', () => {
    expect(orderSrvRecords([])).toEqual([]);
    expect(serviceNotAvailable([srv('a', 0, 0)])).toBe(false);
    expect(orderSrvRecords([srv('a', 0, 0), srv('.', 1, 0)]).map((r) => r.target)).toEqual(['a']);
  });
});

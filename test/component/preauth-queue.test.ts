import { describe, expect, it } from 'vitest';
import { PreauthQueue } from '../../src/component/preauth-queue.js';

/** The bookkeeping behind the pre-auth caps: who waits, oldest first, and who makes room. */
describe('PreauthQueue', () => {
  it('makes room by evicting the oldest from the same address when its cap is reached', () => {
    const q = new PreauthQueue<string>({ perAddress: 2, total: 100 });
    expect(q.add('10.0.0.1', 'a1')).toEqual([]);
    expect(q.add('10.0.0.1', 'a2')).toEqual([]);
    expect(q.add('10.0.0.2', 'b1')).toEqual([]);
    expect(q.add('10.0.0.1', 'a3')).toEqual([{ item: 'a1', address: '10.0.0.1', limit: 'address' }]);
    expect(q.add('10.0.0.1', 'a4')).toEqual([{ item: 'a2', address: '10.0.0.1', limit: 'address' }]);
    expect([q.countFrom('10.0.0.1'), q.countFrom('10.0.0.2'), q.size]).toEqual([2, 1, 3]);
  });

  it('makes room by evicting the oldest of all, from whichever address, when the total is reached', () => {
    const q = new PreauthQueue<string>({ perAddress: 10, total: 3 });
    q.add('10.0.0.1', 'a1');
    q.add('10.0.0.2', 'b1');
    q.add('10.0.0.1', 'a2');
    expect(q.add('10.0.0.3', 'c1')).toEqual([{ item: 'a1', address: '10.0.0.1', limit: 'total' }]);
    expect(q.add('10.0.0.3', 'c2')).toEqual([{ item: 'b1', address: '10.0.0.2', limit: 'total' }]);
    expect([q.countFrom('10.0.0.1'), q.countFrom('10.0.0.2'), q.countFrom('10.0.0.3')]).toEqual([1, 0, 2]);
  });

  it('frees the slot of one that authenticated or ended, so nothing is evicted for it', () => {
    const q = new PreauthQueue<string>({ perAddress: 2, total: 2 });
    q.add('10.0.0.1', 'a1');
    q.add('10.0.0.1', 'a2');
    q.remove('a1');
    q.remove('a1');
    q.remove('never-added');
    expect(q.add('10.0.0.1', 'a3')).toEqual([]);
    expect(q.add('10.0.0.1', 'a4')).toEqual([{ item: 'a2', address: '10.0.0.1', limit: 'address' }]);
    q.remove('a3');
    q.remove('a4');
    expect([q.size, q.countFrom('10.0.0.1')]).toEqual([0, 0]);
  });

  it('evicts exactly what a naive scan over every waiting connection would, on random adds and removes', () => {
    // The scan the queue replaces: a list in arrival order, searched on every add.
    // xorshift32, seeded: the same run every time.
    let seed = 12_345;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const limits = { perAddress: 4, total: 20 };
    const q = new PreauthQueue<number>(limits);
    let naive: Array<{ item: number; address: string }> = [];
    const seen = { address: 0, total: 0 };
    for (let i = 0; i < 5000; i++) {
      if (random(3) === 0 && naive.length > 0) {
        const gone = naive[random(naive.length)]!.item;
        naive = naive.filter((w) => w.item !== gone);
        q.remove(gone);
        continue;
      }
      const address = `10.0.0.${random(6)}`;
      const expected: Array<{ item: number; address: string; limit: string }> = [];
      while (naive.filter((w) => w.address === address).length >= limits.perAddress) {
        const oldest = naive.find((w) => w.address === address)!;
        naive = naive.filter((w) => w !== oldest);
        expected.push({ ...oldest, limit: 'address' });
      }
      while (naive.length >= limits.total) {
        const oldest = naive.shift()!;
        expected.push({ ...oldest, limit: 'total' });
      }
      naive.push({ item: i, address });
      expect(q.add(address, i)).toEqual(expected);
      expect(q.size).toBe(naive.length);
      for (const e of expected) seen[e.limit as 'address' | 'total']++;
    }
    // The run reached both caps many times.
    expect(seen.address).toBeGreaterThan(100);
    expect(seen.total).toBeGreaterThan(100);
  });

  it('refuses caps below 1, which would leave no room for anyone', () => {
    expect(() => new PreauthQueue({ perAddress: 0, total: 10 })).toThrow(RangeError);
    expect(() => new PreauthQueue({ perAddress: 1, total: 0 })).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { ReleasingMap } from '../../../cluster/routing/releasing-map.js';

describe('ReleasingMap', () => {
  it('keeps records by number in the order set, and a taken record is gone', () => {
    const m = new ReleasingMap<{ n: number }>();
    for (let n = 1; n <= 5; n++) m.set(n, { n });
    expect(m.take(3)).toEqual({ n: 3 });
    expect(m.take(3)).toBeUndefined();
    expect(m.get(3)).toBeUndefined();
    expect(m.get(4)).toEqual({ n: 4 });
    expect(m.size).toBe(4);
    expect([...m.values()].map((v) => v.n)).toEqual([1, 2, 4, 5]);
    expect([...m.entries()].map(([k]) => k)).toEqual([1, 2, 4, 5]);
  });

  it('takes a confirmed prefix, up to a number, and no further', () => {
    const m = new ReleasingMap<string>();
    for (let n = 1; n <= 6; n++) m.set(n, `r${n}`);
    m.take(2);
    expect(m.takeUpTo(4)).toEqual(['r1', 'r3', 'r4']);
    expect(m.takeUpTo(4)).toEqual([]);
    expect([...m.values()]).toEqual(['r5', 'r6']);
  });

  it('replaces a record set again under the same number, in its first place', () => {
    const m = new ReleasingMap<string>();
    m.set(1, 'a');
    m.set(2, 'b');
    m.set(1, 'c');
    expect([...m.entries()]).toEqual([
      [1, 'c'],
      [2, 'b'],
    ]);
  });

  it('allows taking the current record while iterating', () => {
    const m = new ReleasingMap<number>();
    for (let n = 1; n <= 4; n++) m.set(n, n * 10);
    const seen: number[] = [];
    for (const [k, v] of m.entries()) {
      seen.push(v);
      if (k % 2 === 0) m.take(k);
    }
    expect(seen).toEqual([10, 20, 30, 40]);
    expect([...m.values()]).toEqual([10, 30]);
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EvictionLog } from '../../src/component/eviction-log.js';
import { LogCapture } from '../helpers/test-node.js';

/**
 * What an operator reads while a flood is being pushed out: one line when
 * it starts, then one per address per interval with a count, never a line
 * per eviction. The interval is a timer, so these tests move the clock.
 */

const lines = (log: LogCapture) => log.find('too_many_unauthenticated').map(({ peer, limit, evicted, otherPeers }) => ({ peer, limit, evicted, otherPeers }));

describe('EvictionLog', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs the first eviction from an address at once and the next thousand as one count when the interval ends', () => {
    const log = new LogCapture();
    const evictions = new EvictionLog(log.logger, 10_000);
    for (let i = 0; i < 1001; i++) evictions.record('10.0.0.1', 'address');
    expect(lines(log)).toEqual([{ peer: '10.0.0.1', limit: 'address', evicted: 1, otherPeers: undefined }]);
    vi.advanceTimersByTime(10_000);
    expect(lines(log)).toEqual([
      { peer: '10.0.0.1', limit: 'address', evicted: 1, otherPeers: undefined },
      { peer: '10.0.0.1', limit: 'address', evicted: 1000, otherPeers: undefined },
    ]);
    expect(log.find('too_many_unauthenticated')[1]).toMatchObject({ level: 40, intervalMs: 10_000 });
  });

  it('gives a flood that goes on one line per interval, and a line at once again after a quiet interval', () => {
    const log = new LogCapture();
    const evictions = new EvictionLog(log.logger, 1000);
    evictions.record('10.0.0.1', 'address');
    for (let interval = 0; interval < 5; interval++) {
      for (let i = 0; i < 50; i++) evictions.record('10.0.0.1', 'address');
      vi.advanceTimersByTime(1000);
    }
    expect(lines(log).map((l) => l.evicted)).toEqual([1, 50, 50, 50, 50, 50]);
    // One interval with nothing to report, then the address is quiet again.
    vi.advanceTimersByTime(1000);
    expect(vi.getTimerCount()).toBe(0);
    evictions.record('10.0.0.1', 'address');
    expect(lines(log).map((l) => l.evicted)).toEqual([1, 50, 50, 50, 50, 50, 1]);
  });

  it('keeps each address and cap apart, and sums a flood from more addresses than it names', () => {
    const log = new LogCapture();
    const evictions = new EvictionLog(log.logger, 1000, 3);
    evictions.record('10.0.0.1', 'address');
    evictions.record('10.0.0.1', 'total');
    evictions.record('10.0.0.2', 'address');
    for (let i = 0; i < 500; i++) evictions.record(`10.0.1.${i % 250}`, 'total');
    expect(lines(log)).toHaveLength(3);
    vi.advanceTimersByTime(1000);
    expect(lines(log).slice(3)).toEqual([{ peer: undefined, limit: undefined, evicted: 500, otherPeers: true }]);
  });

  it('writes what is still counted when the listener stops, and leaves no timer behind', () => {
    const log = new LogCapture();
    const evictions = new EvictionLog(log.logger, 60_000);
    for (let i = 0; i < 10; i++) evictions.record('10.0.0.1', 'address');
    evictions.stop();
    expect(lines(log).map((l) => l.evicted)).toEqual([1, 9]);
    expect(vi.getTimerCount()).toBe(0);
  });
});

import { expect, it } from 'vitest';
import { Mulberry32 } from '../../cluster/raft/prng.js';
import { ReconnectBackoff } from '../../src/bridge/reconnect-backoff.js';

/** The wait after a pass over every SRV target in which none answered. */

it('starts at 100 ms and doubles up to 3 s, each wait between half and all of its step', () => {
  const prng = new Mulberry32(4);
  const backoff = new ReconnectBackoff({ random: () => prng.next() });
  const steps = [100, 200, 400, 800, 1600, 3000, 3000, 3000];
  for (const step of steps) {
    const wait = backoff.next();
    expect(wait).toBeGreaterThanOrEqual(step / 2);
    expect(wait).toBeLessThanOrEqual(step);
  }
});

it('draws the whole jitter range: the lowest and highest random give half and all of the step', () => {
  expect(new ReconnectBackoff({ random: () => 0 }).next()).toBe(50);
  expect(new ReconnectBackoff({ random: () => 0.999999 }).next()).toBe(100);
});

it('starts again from the first step after a reset (a lasting session)', () => {
  const backoff = new ReconnectBackoff({ random: () => 1 - Number.EPSILON });
  for (let i = 0; i < 6; i++) backoff.next();
  expect(backoff.next()).toBe(3000);
  backoff.reset();
  expect(backoff.next()).toBe(100);
});

it('takes other bounds', () => {
  const backoff = new ReconnectBackoff({ initialMs: 10, maxMs: 25, random: () => 0 });
  expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([5, 10, 13]);
});

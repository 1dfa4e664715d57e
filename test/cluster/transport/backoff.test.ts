import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../cluster/transport/backoff.js';

describe('redial backoff', () => {
  const options = { minMs: 50, maxMs: 2000 };
  it('doubles its ceiling per failure up to the maximum, never below the minimum', () => {
    expect(backoffDelay(options, 0, () => 1)).toBe(50);
    expect(backoffDelay(options, 3, () => 1)).toBe(400);
    expect(backoffDelay(options, 40, () => 1)).toBe(2000);
    expect(backoffDelay(options, 40, () => 0)).toBe(50);
  });
  it('draws each wait uniformly under the ceiling (full jitter)', () => {
    expect(backoffDelay(options, 3, () => 0.5)).toBe(225);
  });
});

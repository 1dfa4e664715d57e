import { describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_POLICY, LoginGuard, normalizeAddress } from '../../../src/mmp/ssh/login-guard.js';

describe('login guard', () => {
  it('answers each failure later than the one before, up to a ceiling', () => {
    const g = new LoginGuard({ ...DEFAULT_LOGIN_POLICY, maxFailures: 100 });
    const delays = Array.from({ length: 8 }, (_, i) => g.failed('10.0.0.1', 1000 + i).delayMs);
    expect(delays).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3000, 3000]);
  });

  it('locks an address after maxFailures within the window, for lockoutMs, and only that address', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 4; i++) expect(g.failed('10.0.0.1', i * 1000).locked).toBe(false);
    expect(g.isLocked('10.0.0.1', 4000)).toBe(false);
    expect(g.failed('10.0.0.1', 5000).locked).toBe(true);
    expect(g.isLocked('10.0.0.1', 5001)).toBe(true);
    expect(g.check('10.0.0.1', 5001)).toEqual({ allowed: false, lockedUntil: 5000 + 5 * 60_000 });
    expect(g.isLocked('10.0.0.2', 5001)).toBe(false);
    expect(g.check('10.0.0.2', 5001)).toEqual({ allowed: true });
    expect(g.isLocked('10.0.0.1', 5000 + 5 * 60_000 + 1)).toBe(false);
  });

  it('forgets failures older than the window: five failures spread over hours never lock', () => {
    const g = new LoginGuard();
    for (let i = 0; i < 5; i++) expect(g.failed('10.0.0.1', i * 61_000).locked).toBe(false);
  });

  it('treats IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(normalizeAddress('::ffff:127.0.0.5')).toBe('127.0.0.5');
    expect(normalizeAddress('::1')).toBe('::1');
    const g = new LoginGuard({ ...DEFAULT_LOGIN_POLICY, maxFailures: 1 });
    g.failed('::ffff:10.1.1.1', 0);
    expect(g.isLocked('10.1.1.1', 1)).toBe(true);
  });
});

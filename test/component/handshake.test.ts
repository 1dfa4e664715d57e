import { describe, expect, it } from 'vitest';
import { AuthThrottle } from '../../src/component/auth-throttle.js';
import { componentName } from '../../src/component/session-rules.js';
import { handshakeDigest, newStreamId, verifyHandshake } from '../../src/component/handshake.js';

describe('XEP-0114 handshake', () => {
  it('matches the XEP test vector: id 3BF96D32, secret test (XEP-0114 §3)', () => {
    expect(handshakeDigest('3BF96D32', 'test')).toBe('aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e');
  });

  it('accepts the right digest, in either case and with surrounding whitespace', () => {
    expect(verifyHandshake('3BF96D32', 'test', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e')).toBe(true);
    expect(verifyHandshake('3BF96D32', 'test', ' AAEE83C26AEEAFCBABEABFCBCD50DF997E0A2A1E\n')).toBe(true);
  });

  it('refuses a wrong secret, a wrong length, and any digest for an unknown call bridge', () => {
    expect(verifyHandshake('3BF96D32', 'other', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e')).toBe(false);
    expect(verifyHandshake('3BF96D32', 'test', 'aaee83')).toBe(false);
    expect(verifyHandshake('3BF96D32', undefined, 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e')).toBe(false);
  });

  it('gives every stream its own unguessable id', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newStreamId()));
    expect(ids.size).toBe(1000);
    expect([...ids][0]).toMatch(/^[0-9a-f]{24}$/);
  });
});

describe('component names in the stream header', () => {
  it('takes cb1.<domain> and the bare cb1 that CMS call bridges send as the same call bridge', () => {
    expect(componentName('cb1.example.test', 'example.test')).toBe('cb1');
    expect(componentName('cb1', 'example.test')).toBe('cb1');
  });
  it('refuses names outside the domain, nested names and an empty to', () => {
    expect(componentName('cb1.other.test', 'example.test')).toBeNull();
    expect(componentName('a.cb1.example.test', 'example.test')).toBeNull();
    expect(componentName('', 'example.test')).toBeNull();
    expect(componentName('example.test', 'example.test')).toBeNull();
  });
});

describe('AuthThrottle', () => {
  it('doubles the delay with each failure from one address, up to the cap', () => {
    const t = new AuthThrottle({ baseDelayMs: 100, maxDelayMs: 1000, windowMs: 60_000, maxAddresses: 10 });
    expect([1, 2, 3, 4, 5, 6].map((i) => t.failure('10.0.0.1', i))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(t.failure('10.0.0.2', 7)).toBe(100);
  });

  it('forgets failures after the window and after a success', () => {
    const t = new AuthThrottle({ baseDelayMs: 100, maxDelayMs: 1000, windowMs: 1000, maxAddresses: 10 });
    t.failure('a', 0);
    t.failure('a', 10);
    expect(t.failures('a', 500)).toBe(2);
    expect(t.failures('a', 2000)).toBe(0);
    t.failure('b', 0);
    t.success('b');
    expect(t.failure('b', 1)).toBe(100);
  });

  it('remembers a bounded number of addresses', () => {
    const t = new AuthThrottle({ baseDelayMs: 100, maxDelayMs: 1000, windowMs: 60_000, maxAddresses: 3 });
    for (const a of ['a', 'b', 'c', 'd']) t.failure(a, 0);
    expect(t.failures('a', 1)).toBe(0);
    expect(t.failures('d', 1)).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import { DIALBACK_KEY_LENGTH, dialbackKey, newDialbackSecret, newServerStreamId, verifyDialbackKey } from '../../src/s2s/dialback-key.js';

/** XEP-0185 dialback keys: the published vectors, and the checks a peer meets in db:verify. */

const XEP_0185 = {
  secret: 's3cr3tf0rd14lb4ck',
  receiving: 'xmpp.example.com',
  originating: 'example.org',
  streamId: 'D60000229F',
};

describe('XEP-0185 §2 key generation', () => {
  it('reproduces the XEP-0185 §3 example key', () => {
    expect(dialbackKey(XEP_0185)).toBe('37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643');
  });

  it("reproduces XEP-0220 §2.1.1's key (db:result from capulet.example to montague.example)", () => {
    const key = dialbackKey({ secret: 's3cr3tf0rd14lb4ck', receiving: 'montague.example', originating: 'capulet.example', streamId: 'D60000229F' });
    expect(key).toBe('b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3');
  });

  it('is 64 lowercase hex digits', () => {
    const key = dialbackKey({ secret: newDialbackSecret(), receiving: 'other.test', originating: 'example.test', streamId: newServerStreamId() });
    expect(key).toMatch(/^[0-9a-f]+$/);
    expect(key).toHaveLength(DIALBACK_KEY_LENGTH);
  });

  it('binds the key to every input: secret, receiving, originating, stream id', () => {
    const base = dialbackKey(XEP_0185);
    expect(dialbackKey({ ...XEP_0185, secret: 'another secret' })).not.toBe(base);
    expect(dialbackKey({ ...XEP_0185, receiving: 'other.example.com' })).not.toBe(base);
    expect(dialbackKey({ ...XEP_0185, originating: 'example.net' })).not.toBe(base);
    expect(dialbackKey({ ...XEP_0185, streamId: 'D60000229G' })).not.toBe(base);
  });

  it('puts the receiving server first: swapping the domains gives another key', () => {
    const swapped = dialbackKey({ ...XEP_0185, receiving: XEP_0185.originating, originating: XEP_0185.receiving });
    expect(swapped).not.toBe(dialbackKey(XEP_0185));
  });

  it('treats domains case-insensitively and the stream id case-sensitively', () => {
    const base = dialbackKey(XEP_0185);
    expect(dialbackKey({ ...XEP_0185, receiving: 'XMPP.Example.COM', originating: 'Example.ORG.' })).toBe(base);
    expect(dialbackKey({ ...XEP_0185, streamId: 'd60000229f' })).not.toBe(base);
  });

  it('refuses an empty secret or stream id instead of issuing a key anyone can compute', () => {
    expect(() => dialbackKey({ ...XEP_0185, secret: '' })).toThrow(/secret is empty/);
    expect(() => dialbackKey({ ...XEP_0185, streamId: '' })).toThrow(/stream id is empty/);
  });
});

describe('db:verify: checking a presented key', () => {
  const key = '37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643';

  it('accepts the key issued for the same stream, from any node that holds the secret', () => {
    const issuedByOneNode = dialbackKey(XEP_0185);
    expect(verifyDialbackKey({ ...XEP_0185 }, issuedByOneNode)).toBe(true);
    expect(verifyDialbackKey(XEP_0185, key)).toBe(true);
  });

  it('accepts surrounding whitespace and upper-case hex (XML text, other servers)', () => {
    expect(verifyDialbackKey(XEP_0185, `\n  ${key.toUpperCase()}  \n`)).toBe(true);
  });

  it('is invalid for another stream id: a db:verify for a stream we never issued', () => {
    expect(verifyDialbackKey({ ...XEP_0185, streamId: 'never-issued' }, key)).toBe(false);
  });

  it('is invalid for a key made with another secret', () => {
    expect(verifyDialbackKey({ ...XEP_0185, secret: 'wrong' }, key)).toBe(false);
  });

  it('is invalid when the domains are swapped (a key replayed the other way round)', () => {
    expect(verifyDialbackKey({ ...XEP_0185, receiving: XEP_0185.originating, originating: XEP_0185.receiving }, key)).toBe(false);
  });

  it.each([
    ['empty', ''],
    ['one digit short', key.slice(1)],
    ['one digit long', `${key}0`],
    ['not hex', key.replace(/^../, 'zz')],
    ['one digit changed', key.replace(/^3/, '4')],
  ])('is invalid for a malformed key: %s', (_name, presented) => {
    expect(verifyDialbackKey(XEP_0185, presented)).toBe(false);
  });
});

describe('secrets and stream ids', () => {
  it('generates a different secret and stream id every time', () => {
    const secrets = new Set(Array.from({ length: 20 }, newDialbackSecret));
    const ids = new Set(Array.from({ length: 20 }, newServerStreamId));
    expect(secrets.size).toBe(20);
    expect(ids.size).toBe(20);
    for (const s of secrets) expect(s).toMatch(/^[0-9a-f]{64}$/);
    for (const i of ids) expect(i).toMatch(/^[0-9a-f]{32}$/);
  });
});

import { describe, expect, it } from 'vitest';
import { bounceCondition, bounceError, type AttemptOutcome } from '../../src/s2s/connect-failure.js';
import { errorReply } from '../../src/xmpp/stanza.js';

/** federation.md "Errors on the wire": the condition queued stanzas bounce with when every address failed. */

describe('the bounce condition when every address of a peer failed', () => {
  it.each<[string, AttemptOutcome[], string]>([
    ['no address at all', [], 'remote-server-not-found'],
    ['every connect refused or timed out', ['no-answer', 'no-answer'], 'remote-server-not-found'],
    ['one answered but did not complete in time', ['no-answer', 'timeout'], 'remote-server-timeout'],
    ['TLS required and the peer offers none', ['tls-unavailable'], 'remote-connection-failed'],
    ['the TLS handshake failed', ['no-answer', 'tls-failed'], 'remote-connection-failed'],
    ['dialback invalid', ['auth-failed'], 'remote-connection-failed'],
    ['the peer closed with a stream error', ['stream-error', 'no-answer'], 'remote-connection-failed'],
    ['a definite failure outranks a timeout, in any order', ['tls-failed', 'timeout'], 'remote-connection-failed'],
    ['a timeout outranks no answer, in any order', ['timeout', 'no-answer'], 'remote-server-timeout'],
  ])('%s → %s', (_label, outcomes, expected) => {
    expect(bounceCondition(outcomes)).toBe(expected);
  });

  it('gives stanza errors with RFC 6120 §8.3.3 types, ready for errorReply', () => {
    expect(bounceError('other.test', []).type).toBe('cancel');
    expect(bounceError('other.test', ['timeout']).type).toBe('wait');
    const failed = bounceError('other.test', ['auth-failed']);
    expect(failed.condition).toBe('remote-connection-failed');
    expect(failed.type).toBe('cancel');
    const reply = errorReply('message', { from: 'cb1.example.test', to: 'user@other.test', id: 'm1' }, failed);
    expect(reply).toContain('<remote-connection-failed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    expect(reply).toContain('to="cb1.example.test"');
    expect(reply).toContain('from="user@other.test"');
  });
});

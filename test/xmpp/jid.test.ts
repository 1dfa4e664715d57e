import { describe, expect, it } from 'vitest';
import { domainNameProblem, domainOf, formatJid, isValidDomainName, parseJid } from '../../src/xmpp/jid.js';

describe('JIDs (RFC 7622)', () => {
  it('takes the domain part for routing, lowercased, from any JID form', () => {
    expect(domainOf('cb1.example.test')).toBe('cb1.example.test');
    expect(domainOf('Room@CB1.Example.Test/Res/With/Slashes')).toBe('cb1.example.test');
    expect(domainOf('cb1.example.test/r@x')).toBe('cb1.example.test');
  });

  it('parses and formats local, domain and resource parts', () => {
    const jid = parseJid('room42@cb1.Example.test/a/b');
    expect(jid).toEqual({ local: 'room42', domain: 'cb1.example.test', resource: 'a/b' });
    expect(formatJid(jid!)).toBe('room42@cb1.example.test/a/b');
  });

  it('refuses what RFC 7622 forbids', () => {
    for (const bad of ['', '@example.test', 'a b@example.test', 'x@example.test/', 'x@-bad.test', 'x@exa_mple.test', `${'a'.repeat(1024)}@example.test`, 'x@example..test']) {
      expect(parseJid(bad)).toBeNull();
    }
  });

  it('checks domains as DNS host names, saying what is wrong', () => {
    expect(isValidDomainName('tptac9.com')).toBe(true);
    expect(isValidDomainName(`${'a'.repeat(63)}.com`)).toBe(true);
    expect(domainNameProblem(`${'a'.repeat(64)}.com`)).toMatch(/longer than 63/);
    expect(domainNameProblem(`${'a.'.repeat(127)}com`)).toMatch(/at most 253/);
    expect(domainNameProblem('a..b')).toMatch(/empty label/);
    expect(domainNameProblem('tptac9.com')).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { domainNameProblem, domainOf, formatJid, parseJid, routingDomain } from '../../src/xmpp/jid.js';

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
    expect(domainNameProblem(`${'a'.repeat(63)}.com`)).toBeNull();
    expect(domainNameProblem(`${'a'.repeat(64)}.com`)).toMatch(/longer than 63/);
    expect(domainNameProblem(`${'a.'.repeat(127)}com`)).toMatch(/at most 253/);
    expect(domainNameProblem('a..b')).toMatch(/empty label/);
    expect(domainNameProblem('tptac9.com')).toBeNull();
  });

  it('routes on the domain of a valid JID, lowercased, without a final dot (RFC 7622 §3.2)', () => {
    expect(routingDomain('cb2.example.test')).toBe('cb2.example.test');
    expect(routingDomain('Room@CB2.Example.Test/Res/With/Slashes@and spaces')).toBe('cb2.example.test');
    expect(routingDomain('cb2.example.test.')).toBe('cb2.example.test');
    expect(routingDomain('u@192.0.2.1/r')).toBe('192.0.2.1');
    expect(routingDomain('u@[2001:DB8::1]')).toBe('[2001:db8::1]');
    expect(routingDomain('josé@bücher.example/Ünïcode 😀')).toBe('bücher.example');
    expect(routingDomain(`${'a'.repeat(1023)}@x.example/${'r'.repeat(1023)}`)).toBe('x.example');
    // Any domainpart, not only our DNS names: 1023 octets of 63-octet labels.
    const long = `${'a'.repeat(63)}.`.repeat(15) + 'b'.repeat(63);
    expect(long.length).toBe(1023);
    expect(routingDomain(long)).toBe(long);
  });

  it.each([
    ['a space in the local part', 'a b@cb2.example.test'],
    ['an empty local part', '@cb2.example.test'],
    ['an empty resource', 'cb2.example.test/'],
    ['two @', 'a@b@cb2.example.test'],
    ['a 3,000-character domain', `${`${'a'.repeat(59)}.`.repeat(50)}test`],
    ['a domain label of 64 characters', `${'a'.repeat(64)}.test`],
    ['an empty label', 'cb2..example.test'],
    ['an empty domain', 'user@/r'],
    ['nothing at all', ''],
    ['a lone dot', '.'],
    ['a hyphen at the end of a label', 'cb2-.example.test'],
    ['an underscore in the domain', 'c_b2.example.test'],
    ['a bracketed literal that is not IPv6', '[192.0.2.1]'],
    ['a forbidden character in the local part', "o'brien@cb2.example.test"],
    ['a symbol beyond ASCII in the local part', 'a€@cb2.example.test'],
    ['a control character in the resource', 'cb2.example.test/a\u0007b'],
    ['a local part over 1023 octets', `${'é'.repeat(512)}@cb2.example.test`],
    ['a resource over 1023 octets', `cb2.example.test/${'r'.repeat(1024)}`],
  ])('refuses %s', (_what, jid) => {
    expect(routingDomain(jid)).toBeNull();
  });
});

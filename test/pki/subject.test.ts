import { describe, expect, it } from 'vitest';
import { SubjectSyntaxError, isDnsName, parseSubjectWords } from '../../src/pki/subject.js';

describe('pki subject words', () => {
  it('reads the seed\'s command: CN and subAltName with a bare host label', () => {
    expect(parseSubjectWords(['CN:tptac9.com', 'subAltName:cb1.tptac9.com,cb2.tptac9.com,cb3'])).toEqual({
      name: [{ CN: ['tptac9.com'] }],
      commonName: 'tptac9.com',
      altNames: [
        { type: 'dns', value: 'cb1.tptac9.com' },
        { type: 'dns', value: 'cb2.tptac9.com' },
        { type: 'dns', value: 'cb3' },
      ],
    });
  });

  it('orders the name C, ST, L, O, OU, CN whatever order they are typed in, and takes IP names', () => {
    const s = parseSubjectWords(['CN:x.example.com', 'O:Example Inc', 'C:NO', 'subjectAltName:DNS:x.example.com,IP:10.0.0.1,::1,x.example.com']);
    expect(s.name).toEqual([{ C: ['NO'] }, { O: ['Example Inc'] }, { CN: ['x.example.com'] }]);
    expect(s.altNames).toEqual([
      { type: 'dns', value: 'x.example.com' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'ip', value: '::1' },
    ]);
  });

  it('refuses what a CA would refuse, each with its own reason', () => {
    const cases: [string[], RegExp][] = [
      [['O:x'], /CN:<name> is required/],
      [['CN:a', 'CN:b'], /CN: is given twice/],
      [['CN:'], /CN: has no value/],
      [['CN:a', 'C:Norway'], /two-letter country code/],
      [['CN:' + 'a'.repeat(65)], /longer than 64/],
      [['CN:a', 'E:me@example.com'], /unknown attribute 'E:'/],
      [['CN:a', 'plainword'], /is not an attribute/],
      [['CN:a', 'subjectAltName:'], /no empty entries/],
      [['CN:a', 'subjectAltName:a', 'subAltName:b'], /given twice/],
      [['CN:a', 'subjectAltName:-bad.example.com'], /not a DNS name/],
      [['CN:a', 'subjectAltName:IP:300.1.1.1'], /not an IP address/],
    ];
    for (const [words, reason] of cases) {
      expect(() => parseSubjectWords(words), words.join(' ')).toThrow(SubjectSyntaxError);
      expect(() => parseSubjectWords(words), words.join(' ')).toThrow(reason);
    }
  });

  it('knows DNS names: labels of letters, digits and inner hyphens, an optional leading wildcard', () => {
    for (const ok of ['cb1', 'cb1.tptac9.com', '*.tptac9.com', 'a-b.c']) expect(isDnsName(ok), ok).toBe(true);
    for (const bad of ['', '-a', 'a-', 'a..b', 'a_b', '*', 'a.*.b', 'x'.repeat(64), `${'a.'.repeat(127)}a`]) expect(isDnsName(bad), bad).toBe(false);
  });
});

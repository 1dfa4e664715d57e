import { describe, expect, it } from 'vitest';
import type { StreamError } from '../../src/xmpp/errors.js';
import { StreamParser } from '../../src/xmpp/stream-parser.js';

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='cb1.example.test'>";

function collect(maxElementSize = 256 * 1024, limits: { maxDepth?: number; maxAttributes?: number } = {}) {
  const out = {
    header: null as null | { name: string; attrs: Record<string, string> },
    elements: [] as Array<{ name: string; attrs: Record<string, string>; raw: string; children: number }>,
    ended: false,
    error: null as StreamError | null,
    errors: 0,
  };
  const parser = new StreamParser(
    {
      streamStart: (name, attrs) => (out.header = { name, attrs }),
      element: (name, attrs, raw, children) => out.elements.push({ name, attrs, raw, children }),
      streamEnd: () => (out.ended = true),
      streamError: (e) => {
        out.error = e;
        out.errors++;
      },
    },
    { maxElementSize, ...limits },
  );
  return { parser, out };
}

/** The stream error for `stanzas` after a good header, written `chunk` characters at a time, or null when all were taken. */
function errorFor(stanzas: string, header = HEADER, chunk = Infinity): string | null {
  const { parser, out } = collect();
  const text = header + stanzas;
  for (let i = 0; i < text.length; i += chunk) parser.write(text.slice(i, i + chunk));
  return out.error?.condition ?? null;
}

describe('StreamParser', () => {
  it('reports the header, then each stanza with its exact original text', () => {
    const { parser, out } = collect();
    const m1 = `<message from='cb1.example.test' to='cb2.example.test' id="a&amp;b"><body>hi &lt;there&gt; 😀</body></message>`;
    const m2 = `<iq type='get' id='1' to='example.test' from='cb1.example.test'><ping xmlns='urn:xmpp:ping'/></iq>`;
    parser.write(HEADER + m1 + '\n  \t' + m2 + ' </stream:stream>');
    expect(out.header?.name).toBe('stream:stream');
    expect(out.header?.attrs.to).toBe('cb1.example.test');
    expect(out.elements.map((e) => e.raw)).toEqual([m1, m2]);
    expect(out.elements[0]!.attrs.id).toBe('a&b');
    expect(out.ended).toBe(true);
    expect(out.error).toBeNull();
  });

  it('gives the same stanzas whatever the chunking, down to one character a write', () => {
    const body = `<message from='a.example.test' to='b.example.test'><body>é😀&amp;</body></message><presence from='a.example.test' to='b.example.test'/>`;
    const whole = collect();
    whole.parser.write(HEADER + body);
    const expected = whole.out.elements.map((e) => e.raw);
    expect(expected).toHaveLength(2);
    for (const size of [1, 2, 3, 7, 64]) {
      const { parser, out } = collect();
      const text = HEADER + body;
      for (let i = 0; i < text.length; i += size) parser.write(text.slice(i, i + size));
      expect(out.elements.map((e) => e.raw)).toEqual(expected);
    }
  });

  it.each([
    ['a DOCTYPE', `<!DOCTYPE stream [<!ENTITY a "b">]>${HEADER}`],
    ['a processing instruction', `${HEADER}<?php echo 1 ?>`],
    ['a comment', `${HEADER}<message><!-- hi --></message>`],
    ['an entity other than the five predefined', `${HEADER}<message to='x' from='y'><body>&nbsp;</body></message>`],
    ['the billion laughs', `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>${HEADER}<message>&lol2;</message>`],
  ])('ends the stream with restricted-xml on %s (RFC 6120 §11.1)', (_what, text) => {
    const { parser, out } = collect();
    parser.write(text);
    expect(out.error?.condition).toBe('restricted-xml');
    expect(out.elements).toHaveLength(0);
  });

  it.each([
    ['mismatched tags', `${HEADER}<message><body></message>`],
    ['an unquoted attribute', `${HEADER}<message to=x/>`],
    ['text between stanzas', `${HEADER}hello<message/>`],
    ['a lone ampersand', `${HEADER}<message><body>a & b</body></message>`],
  ])('ends the stream with not-well-formed on %s', (_what, text) => {
    const { parser, out } = collect();
    parser.write(text);
    expect(out.error?.condition).toBe('not-well-formed');
  });

  it('reads nothing after </stream:stream>', () => {
    const { parser, out } = collect();
    parser.write(`${HEADER}</stream:stream><message to='b' from='a'/>`);
    parser.write(`<message to='b' from='a'/>`);
    expect(out.ended).toBe(true);
    expect(out.elements).toHaveLength(0);
    expect(out.error).toBeNull();
  });

  it('refuses a stanza over the limit within one write of crossing it, without waiting for its end', () => {
    const { parser, out } = collect(1024);
    parser.write(HEADER + "<message to='b' from='a'><body>");
    parser.write('x'.repeat(2000));
    expect(out.error?.condition).toBe('policy-violation');
  });

  it('refuses endless whitespace between stanzas like an oversized stanza', () => {
    const { parser, out } = collect(1024);
    parser.write(HEADER);
    for (let i = 0; i < 10; i++) parser.write(' '.repeat(200));
    expect(out.error?.condition).toBe('policy-violation');
  });

  it('accepts a stanza exactly at the limit', () => {
    const stanza = `<message to='b' from='a'><body>${'x'.repeat(100)}</body></message>`;
    const { parser, out } = collect(stanza.length);
    parser.write(HEADER + stanza);
    expect(out.error).toBeNull();
    expect(out.elements[0]!.raw).toBe(stanza);
  });

  it('reports nothing after the first error', () => {
    const { parser, out } = collect();
    parser.write(`${HEADER}<a><!-- x --></a><message to='b' from='a'/>`);
    parser.write(`<message to='b' from='a'/>`);
    expect(out.error?.condition).toBe('restricted-xml');
    expect(out.elements).toHaveLength(0);
  });

  it('counts the direct child elements of each stanza, not deeper ones or text', () => {
    const { parser, out } = collect();
    parser.write(`${HEADER}<iq type='get' id='1'/><iq type='set' id='2'> <a><b/><c/></a>text<d/></iq><message><body>x</body><x xmlns='urn:a'/><y/></message>`);
    expect(out.elements.map((e) => e.children)).toEqual([0, 2, 3]);
  });
});

describe('StreamParser: namespaces (XML-NAMES; RFC 6120 §4.9.3.13)', () => {
  it.each([
    ['an element with an undeclared prefix', `<message to='b' from='a'><foo:bar/></message>`],
    ['an attribute with an undeclared prefix', `<message to='b' from='a'><x a:b='1'/></message>`],
    ['the prefix xmlns declared', `<message to='b' from='a'><x xmlns:xmlns='urn:bad'/></message>`],
    ['a prefix bound to the empty string', `<message to='b' from='a'><p:x xmlns:p=''/></message>`],
    ['xml bound to another namespace', `<message to='b' from='a'><x xmlns:xml='urn:other'/></message>`],
    ['another prefix bound to the XML namespace', `<message to='b' from='a'><x xmlns:p='http://www.w3.org/XML/1998/namespace'/></message>`],
    ['a prefix bound to the xmlns namespace', `<message to='b' from='a'><x xmlns:p='http://www.w3.org/2000/xmlns/'/></message>`],
    ['the default namespace set to the XML namespace', `<message to='b' from='a'><x xmlns='http://www.w3.org/XML/1998/namespace'/></message>`],
    ['an element with the prefix xmlns', `<message to='b' from='a'><xmlns:x/></message>`],
    ['a name with two colons', `<message to='b' from='a'><p:x:y xmlns:p='urn:p'/></message>`],
    ['a name with an empty local part', `<message to='b' from='a'><x xmlns:p='urn:p' p:='1'/></message>`],
    ['a local part starting with a digit', `<message to='b' from='a'><p:1x xmlns:p='urn:p'/></message>`],
    ['an xml: attribute whose local part starts with a digit', `<message to='b' from='a' xml:1a='x'/>`],
    ['the same attribute twice once prefixes are expanded', `<message to='b' from='a'><x xmlns:p='urn:u' xmlns:q='urn:u' p:z='1' q:z='2'/></message>`],
    ['a prefix used outside the element that declared it', `<message to='b' from='a'><x xmlns:p='urn:p'/><p:y/></message>`],
    ['an undeclared prefix on the stanza itself', `<k:message to='b' from='a'/>`],
    ['an undeclared prefix after colons in text and end tags', `<message to='b' from='a'><body>at 12:30</body><p:x xmlns:p='urn:p'></p:x><q:y/></message>`],
    ['an undeclared prefix in a tag whose values hold colons too', `<message to='b' from='a'><x xmlns='urn:x:y' a='b:c' d:e='f'/></message>`],
  ])('ends the stream with not-well-formed on %s, however it is chunked', (_what, stanza) => {
    for (const chunk of [Infinity, 1, 3, 7]) expect(errorFor(stanza, HEADER, chunk)).toBe('not-well-formed');
  });

  it('ends the stream with bad-namespace-prefix when the header does not declare stream: (RFC 6120 §4.9.3.2)', () => {
    expect(errorFor('', "<stream:stream xmlns='jabber:component:accept' to='cb1.example.test'>")).toBe('bad-namespace-prefix');
  });

  it('takes declared prefixes, the predefined xml prefix, and the header binding of stream: inside stanzas', () => {
    const { parser, out } = collect();
    const stanzas = [
      `<message to='b' from='a' xml:lang='en'><body xml:lang='de'>hallo</body></message>`,
      `<message to='b' from='a'><p:x xmlns:p='urn:p' p:a='1'><p:y p:b='2'/></p:x><q:x xmlns:q='urn:q'/></message>`,
      `<message to='b' from='a'><x xmlns:p='urn:p' xmlns:q='urn:q' p:z='1' q:z='2' z='3'/></message>`,
      `<message to='b' from='a'><x xmlns:xml='http://www.w3.org/XML/1998/namespace' xmlns=''/></message>`,
      `<stream:error><system-shutdown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>`,
    ];
    parser.write(HEADER + stanzas.join(''));
    expect(out.error).toBeNull();
    expect(out.elements.map((e) => e.raw)).toEqual(stanzas);
    expect(out.elements[0]!.attrs['xml:lang']).toBe('en');
    for (const chunk of [1, 3, 7]) expect(errorFor(stanzas.join(''), HEADER, chunk)).toBeNull();
  });

  it('keeps the scope of a prefix to its element, across chunks', () => {
    const { parser, out } = collect();
    const text = `${HEADER}<message to='b' from='a'><p:x xmlns:p='urn:p'><p:y/></p:x></message><message to='b' from='a'><p:z/></message>`;
    for (let i = 0; i < text.length; i += 5) parser.write(text.slice(i, i + 5));
    expect(out.elements).toHaveLength(1);
    expect(out.error?.condition).toBe('not-well-formed');
  });
});

describe('StreamParser: depth and attribute limits', () => {
  it('refuses a stanza nested deeper than maxDepth with policy-violation, and takes one at the limit', () => {
    const nested = (levels: number) => `<message to='b' from='a'>${'<a>'.repeat(levels - 1)}${'</a>'.repeat(levels - 1)}</message>`;
    const { parser, out } = collect(1024 * 1024, { maxDepth: 8 });
    parser.write(HEADER + nested(8));
    expect(out.elements).toHaveLength(1);
    parser.write(nested(9));
    expect(out.error?.condition).toBe('policy-violation');
    expect(out.elements).toHaveLength(1);
  });

  it('refuses 10,000 levels with the default limit, even under the size limit', () => {
    const { parser, out } = collect();
    parser.write(`${HEADER}<message to='b' from='a'>${'<a>'.repeat(10_000)}`);
    expect(out.error?.condition).toBe('policy-violation');
  });

  it('refuses an element with more than maxAttributes attributes, on the stream header too', () => {
    const attributes = (n: number) => Array.from({ length: n }, (_, i) => ` a${i}=''`).join('');
    const ok = collect(1024 * 1024, { maxAttributes: 10 });
    ok.parser.write(`${HEADER}<message to='b' from='a'><x${attributes(10)}/></message>`);
    expect(ok.out.error).toBeNull();
    expect(ok.out.elements).toHaveLength(1);

    const wide = collect(1024 * 1024);
    wide.parser.write(`${HEADER}<message to='b' from='a'><x${attributes(40_000)}/></message>`);
    expect(wide.out.error?.condition).toBe('policy-violation');
    expect(wide.out.elements).toHaveLength(0);

    const header = collect(1024 * 1024);
    header.parser.write(`${HEADER.slice(0, -1)}${attributes(300)}>`);
    expect(header.out.error?.condition).toBe('policy-violation');
    expect(header.out.header).toBeNull();
  });

  it('refuses a stream header larger than the element size limit', () => {
    const { parser, out } = collect(1024);
    parser.write(`${HEADER.slice(0, -1)} x='`);
    for (let i = 0; i < 10; i++) parser.write('y'.repeat(200));
    expect(out.error?.condition).toBe('policy-violation');
  });

  it('reports one error and nothing more when several follow in one write', () => {
    const { parser, out } = collect();
    parser.write(`${HEADER}<message to='b' from='a'>${'<a>'.repeat(100)}${'</a>'.repeat(100)}</message><foo:bar/><!-- x --><message to='b' from='a'/>`);
    expect(out.errors).toBe(1);
    expect(out.error?.condition).toBe('policy-violation');
    expect(out.elements).toHaveLength(0);
  });
});

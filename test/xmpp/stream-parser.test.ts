import { describe, expect, it } from 'vitest';
import type { StreamError } from '../../src/xmpp/errors.js';
import { StreamParser } from '../../src/xmpp/stream-parser.js';

const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='cb1.example.test'>";

function collect(maxElementSize = 256 * 1024) {
  const out = { header: null as null | { name: string; attrs: Record<string, string> }, elements: [] as Array<{ name: string; attrs: Record<string, string>; raw: string }>, ended: false, error: null as StreamError | null };
  const parser = new StreamParser(
    {
      streamStart: (name, attrs) => (out.header = { name, attrs }),
      element: (name, attrs, raw) => out.elements.push({ name, attrs, raw }),
      streamEnd: () => (out.ended = true),
      streamError: (e) => (out.error = e),
    },
    { maxElementSize },
  );
  return { parser, out };
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
});

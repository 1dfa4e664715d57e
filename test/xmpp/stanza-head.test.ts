import { describe, expect, it } from 'vitest';
import { stanzaAttributes } from '../../src/xmpp/stanza-head.js';
import { StreamParser } from '../../src/xmpp/stream-parser.js';

/** The attributes a session's parser reports for `raw` sent on a component stream. */
function asTheSessionReadIt(raw: string): Record<string, string> {
  let attrs: Record<string, string> | undefined;
  const parser = new StreamParser({ streamStart: () => undefined, element: (_n, a) => void (attrs = a), streamEnd: () => undefined, streamError: () => undefined });
  parser.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='cb1.example.test'>${raw}`);
  return attrs!;
}

describe('stanzaAttributes', () => {
  it.each([
    [`<message to='b' from='a' id='1'/>`],
    [`<iq type="get" id="&lt;&amp;&#x41;" to='b' from='a'><ping xmlns='urn:xmpp:ping'/></iq>`],
    // Attribute-value normalization (XML 1.0 §3.3.3): a tab or newline in a value reads as a space.
    [`<message to='b'\nfrom='a' id='x\ty\nz' xml:lang='fr'><body>é</body></message>`],
    [`<presence xmlns='jabber:component:accept' to='b' from='a'/>`],
  ])('reads %s as the session did', (raw) => {
    expect(stanzaAttributes(raw)).toEqual(asTheSessionReadIt(raw));
  });

  it('falls back to a lenient reading for a prefix only its stream header bound', () => {
    expect(stanzaAttributes(`<message to='b' from='a' db:x='1'/>`)).toEqual({ to: 'b', from: 'a', 'db:x': '1' });
  });
});

import { describe, expect, it } from 'vitest';
import { answerServerStanza } from '../../src/router/server-domain.js';
import type { Stanza } from '../../src/router/router.js';
import { parseStanza } from '../../src/xmpp/stanza.js';

/**
 * The server's own answers, for stanzas that reach it by any way in: the
 * component session refuses these iqs before routing, the server domain
 * must not depend on that.
 */

const view = { domain: 'example.test', components: () => ['cb1.example.test'] };
const iq = (raw: string): Stanza => {
  const el = parseStanza(raw);
  return { name: 'iq', attrs: el.attrs as Record<string, string>, raw, toDomain: 'example.test' };
};

describe('server domain: iq requests (RFC 6120 §8.2.3)', () => {
  it.each([
    ['without id', `<iq type='get' from='cb1.example.test' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>`],
    ['with two payloads', `<iq type='get' id='a' from='cb1.example.test' to='example.test'><ping xmlns='urn:xmpp:ping'/><ping xmlns='urn:xmpp:ping'/></iq>`],
    ['with no payload', `<iq type='set' id='b' from='cb1.example.test' to='example.test'/>`],
  ])('answers bad-request to a request %s', (_what, raw) => {
    const reply = parseStanza(answerServerStanza(iq(raw), view)!);
    expect(reply.attrs.type).toBe('error');
    expect(reply.attrs.id).toBe(parseStanza(raw).attrs.id);
    expect(reply.getChild('error')?.getChild('bad-request')).toBeDefined();
  });

  it('answers a ping with a result carrying its id', () => {
    const reply = parseStanza(answerServerStanza(iq(`<iq type='get' id='p' from='cb1.example.test' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>`), view)!);
    expect(reply.attrs).toMatchObject({ type: 'result', id: 'p', from: 'example.test', to: 'cb1.example.test' });
  });
});

import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING } from '../xmpp/namespaces.js';
import { StanzaError } from '../xmpp/errors.js';
import { errorReply, parseStanza, xml } from '../xmpp/stanza.js';
import type { Stanza } from './router.js';

/**
 * Stanzas addressed to the server's own domain (RFC 6120 §10.3): XEP-0199
 * pings and XEP-0030 disco are answered; any other request gets
 * `<service-unavailable/>` (§8.4); results, errors and presence are taken
 * without reply, as the RFC allows.
 */

export const SERVER_FEATURES = [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING];

export interface ServerDomainView {
  domain: string;
  /** Component addresses connected now, for disco#items. */
  components(): Iterable<string>;
}

/** The reply to send back to the sender, or null when none is due. */
export function answerServerStanza(stanza: Stanza, view: ServerDomainView): string | null {
  const type = stanza.attrs.type;
  if (type === 'error') return null;
  if (stanza.name === 'presence') return null;
  if (stanza.name === 'message') {
    return errorReply('message', stanza.attrs, new StanzaError('service-unavailable', 'the server does not take messages'));
  }
  // iq
  if (type === 'result') return null;
  if (type !== 'get' && type !== 'set') {
    return errorReply('iq', stanza.attrs, new StanzaError('bad-request', "an iq needs type 'get', 'set', 'result' or 'error'"));
  }
  // RFC 6120 §8.2.3: a request has an id and exactly one payload. The
  // component session refuses such an iq before routing; this keeps the
  // answer right for any other way in.
  const payloads = parseStanza(stanza.raw).getChildElements();
  const id = stanza.attrs.id;
  if (id === undefined || payloads.length !== 1) {
    return errorReply('iq', stanza.attrs, new StanzaError('bad-request', `an iq of type '${type}' needs an 'id' and exactly one child element`));
  }
  const payload = payloads[0]!;
  const ns = payload.attrs.xmlns as string | undefined;
  const reply = { type: 'result', from: stanza.attrs.to!, to: stanza.attrs.from!, id };
  if (type === 'get' && payload.name === 'ping' && ns === NS_PING) {
    return xml('iq', reply).toString();
  }
  if (type === 'get' && payload.name === 'query' && ns === NS_DISCO_INFO && !payload.attrs.node) {
    return xml(
      'iq',
      reply,
      xml(
        'query',
        { xmlns: NS_DISCO_INFO },
        xml('identity', { category: 'server', type: 'im', name: 'xmpp-cluster' }),
        ...SERVER_FEATURES.map((v) => xml('feature', { var: v })),
      ),
    ).toString();
  }
  if (type === 'get' && payload.name === 'query' && ns === NS_DISCO_ITEMS && !payload.attrs.node) {
    const items = [...view.components()].sort().map((jid) => xml('item', { jid }));
    return xml('iq', reply, xml('query', { xmlns: NS_DISCO_ITEMS }, ...items)).toString();
  }
  return errorReply('iq', stanza.attrs, new StanzaError('service-unavailable'));
}

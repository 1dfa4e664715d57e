import { escapeXML } from '@xmpp/xml';
import { NS_SERVER, NS_STREAM } from '../xmpp/namespaces.js';
import { parseStanza, type Element } from '../xmpp/stanza.js';

/**
 * The element shapes of server-to-server stream negotiation, built and read
 * in one place: RFC 6120 §4.7 (headers), §5.4 (STARTTLS), §6.4 (SASL),
 * XEP-0220 §2 (dialback) and XEP-0178 §3 (SASL EXTERNAL between servers).
 */

export const NS_DIALBACK = 'jabber:server:dialback';
/** XEP-0220 §2.3: the stream feature that announces dialback (with error support, §2.4). */
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

export interface S2sHeaderFields {
  from?: string;
  to?: string;
  id?: string;
}

/**
 * A server stream header: `jabber:server` with the dialback prefix declared
 * (XEP-0220 §2.1.1: the `db:` elements are qualified by it), version 1.0 so
 * the peer sends stream features (RFC 6120 §4.7.5).
 */
export function s2sHeader(fields: S2sHeaderFields): string {
  let s = `<?xml version='1.0'?><stream:stream xmlns:stream='${NS_STREAM}' xmlns='${NS_SERVER}' xmlns:db='${NS_DIALBACK}'`;
  if (fields.id !== undefined) s += ` id='${escapeXML(fields.id)}'`;
  if (fields.from !== undefined) s += ` from='${escapeXML(fields.from)}'`;
  if (fields.to !== undefined) s += ` to='${escapeXML(fields.to)}'`;
  return `${s} version='1.0'>`;
}

export interface OfferedFeatures {
  starttls: boolean;
  starttlsRequired: boolean;
  /** SASL mechanisms offered, upper case. */
  mechanisms: string[];
  dialback: boolean;
}

export interface FeatureOffer {
  starttls?: 'optional' | 'required';
  external?: boolean;
  dialback?: boolean;
}

/** `<stream:features>` as a receiving server sends it (RFC 6120 §4.3.2). */
export function featuresElement(offer: FeatureOffer): string {
  let s = '<stream:features>';
  if (offer.starttls) s += `<starttls xmlns='${NS_TLS}'>${offer.starttls === 'required' ? '<required/>' : ''}</starttls>`;
  if (offer.external) s += `<mechanisms xmlns='${NS_SASL}'><mechanism>EXTERNAL</mechanism></mechanisms>`;
  if (offer.dialback) s += `<dialback xmlns='${NS_DIALBACK_FEATURE}'><errors/></dialback>`;
  return `${s}</stream:features>`;
}

/** What a peer's `<stream:features>` offers. */
export function readFeatures(raw: string): OfferedFeatures {
  const el = parseStanza(raw);
  const starttls = childNs(el, 'starttls', NS_TLS);
  const mechanisms = childNs(el, 'mechanisms', NS_SASL);
  return {
    starttls: starttls !== undefined,
    starttlsRequired: starttls?.getChild('required') !== undefined,
    mechanisms: mechanisms ? mechanisms.getChildren('mechanism').map((m) => m.getText().trim().toUpperCase()) : [],
    dialback: childNs(el, 'dialback', NS_DIALBACK_FEATURE) !== undefined,
  };
}

function childNs(el: Element, name: string, ns: string): Element | undefined {
  return el.getChildren(name).find((c) => c.attrs.xmlns === ns);
}

/** The local name of a qualified element name (`db:result` → `result`). */
export function localName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

/** `db:result` / `db:verify`, under whatever prefix (or default namespace) the peer chose. */
export function dialbackElement(name: string, attrs: Record<string, string>): 'result' | 'verify' | null {
  const local = localName(name);
  if (local !== 'result' && local !== 'verify') return null;
  const colon = name.indexOf(':');
  if (colon === -1) return attrs.xmlns === NS_DIALBACK ? local : null;
  // The prefix is bound on the header in practice (db:); a prefix bound on the element itself says so too.
  const prefix = name.slice(0, colon);
  return prefix === 'db' || attrs[`xmlns:${prefix}`] === NS_DIALBACK ? local : null;
}

/** Character data of an element (a dialback key, a SASL payload), trimmed. */
export function textOf(raw: string): string {
  return parseStanza(raw).getText().trim();
}

/** XEP-0220 §2.1.1 step 1 / §2.1.2 step 2: the key goes as the element's text. */
export function dialbackRequest(kind: 'result' | 'verify', attrs: { from: string; to: string; id?: string }, key: string): string {
  const id = attrs.id !== undefined ? ` id='${escapeXML(attrs.id)}'` : '';
  return `<db:${kind} from='${escapeXML(attrs.from)}' to='${escapeXML(attrs.to)}'${id}>${escapeXML(key)}</db:${kind}>`;
}

/** XEP-0220 §2.2.1 step 4 / §2.2.2 step 3: from and to swapped, the type, no key. */
export function dialbackAnswer(kind: 'result' | 'verify', attrs: { from: string; to: string; id?: string }, type: 'valid' | 'invalid'): string {
  const id = attrs.id !== undefined ? ` id='${escapeXML(attrs.id)}'` : '';
  return `<db:${kind} from='${escapeXML(attrs.from)}' to='${escapeXML(attrs.to)}'${id} type='${type}'/>`;
}

/** XEP-0220 §2.4: a dialback error, which is not a stream error: the stream stays up for other pairs. */
export function dialbackError(kind: 'result' | 'verify', attrs: { from: string; to: string; id?: string }, condition: string): string {
  const id = attrs.id !== undefined ? ` id='${escapeXML(attrs.id)}'` : '';
  return `<db:${kind} from='${escapeXML(attrs.from)}' to='${escapeXML(attrs.to)}'${id} type='error'><error type='cancel'><${condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:${kind}>`;
}

/**
 * XEP-0178 §3 (server to server): the initiating server names the domain it
 * authenticates as, base64 of its `from`. Prosody and ejabberd both accept
 * it, and also the empty `=` form (RFC 6120 §6.4.2).
 */
export function externalAuth(authzid: string): string {
  return `<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from(authzid, 'utf8').toString('base64') || '='}</auth>`;
}

export const SASL_SUCCESS = `<success xmlns='${NS_SASL}'/>`;
export const STARTTLS = `<starttls xmlns='${NS_TLS}'/>`;
export const PROCEED = `<proceed xmlns='${NS_TLS}'/>`;
export const TLS_FAILURE = `<failure xmlns='${NS_TLS}'/>`;

export function saslFailure(condition: string): string {
  return `<failure xmlns='${NS_SASL}'><${condition}/></failure>`;
}

/** The SASL payload of `<auth/>`: '' for `=` or no text, null when it is not base64 (RFC 6120 §6.4.2). */
export function decodeSaslPayload(text: string): string | null {
  if (text === '' || text === '=') return '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64').toString('utf8');
}

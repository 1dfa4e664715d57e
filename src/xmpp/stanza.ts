import xml, { escapeXML, type Element } from '@xmpp/xml';
import { parse as parseXml } from 'ltx';
import { NS_STANZA_ERRORS, NS_STREAM, NS_STREAM_ERRORS } from './namespaces.js';
import type { StanzaError, StreamError } from './errors.js';

/**
 * Everything the server writes to a stream is built here, so that escaping
 * and the shapes RFC 6120 prescribes live in one place. Stanzas that pass
 * through unchanged are never rebuilt: the router forwards their original text.
 */

export { xml, type Element };

export const STREAM_FOOTER = '</stream:stream>';

export interface StreamHeaderFields {
  /** The content namespace, e.g. jabber:component:accept. */
  xmlns: string;
  from?: string;
  to?: string;
  id?: string;
  version?: string;
}

/** An opening stream header, with the XML declaration (RFC 6120 §4.7). */
export function streamHeader(fields: StreamHeaderFields): string {
  let s = `<?xml version='1.0'?><stream:stream xmlns:stream='${NS_STREAM}' xmlns='${escapeXML(fields.xmlns)}'`;
  if (fields.id !== undefined) s += ` id='${escapeXML(fields.id)}'`;
  if (fields.from !== undefined) s += ` from='${escapeXML(fields.from)}'`;
  if (fields.to !== undefined) s += ` to='${escapeXML(fields.to)}'`;
  if (fields.version !== undefined) s += ` version='${escapeXML(fields.version)}'`;
  return s + '>';
}

/** `<stream:error>` with its condition and optional text (RFC 6120 §4.9.2). */
export function streamErrorElement(error: StreamError): string {
  const children = [xml(error.condition, { xmlns: NS_STREAM_ERRORS })];
  if (error.text) children.push(xml('text', { xmlns: NS_STREAM_ERRORS }, error.text));
  return xml('stream:error', {}, ...children).toString();
}

export interface StanzaAddress {
  from?: string;
  to?: string;
  id?: string;
  type?: string;
}

/**
 * The error a server returns for a stanza it cannot deliver or handle
 * (RFC 6120 §8.3): addresses swapped, same id, type 'error'. The original
 * payload is not echoed back: it may be large and the sender has it.
 */
export function errorReply(name: string, attrs: StanzaAddress, error: StanzaError, from?: string): string {
  const reply: Record<string, string> = { type: 'error' };
  const replyFrom = from ?? attrs.to;
  if (replyFrom) reply.from = replyFrom;
  if (attrs.from) reply.to = attrs.from;
  // An empty id is still the id to echo; only an absent one is left out.
  if (attrs.id !== undefined) reply.id = attrs.id;
  const condition = [xml(error.condition, { xmlns: NS_STANZA_ERRORS })];
  if (error.text) condition.push(xml('text', { xmlns: NS_STANZA_ERRORS }, error.text));
  return xml(name, reply, xml('error', { type: error.type }, ...condition)).toString();
}

/**
 * The element tree of a stanza's original text, for the few stanzas the
 * server itself reads (pings, disco). The text was already checked by the
 * stream parser, so ltx's lenient parser is enough.
 */
export function parseStanza(raw: string): Element {
  return parseXml(raw) as Element;
}

import { parseStanza } from './stanza.js';
import { NS_COMPONENT, NS_STREAM } from './namespaces.js';
import { StreamParser } from './stream-parser.js';

/** A stream header that binds what a stanza may use without declaring it: the stream prefix. */
const HEADER = `<stream:stream xmlns='${NS_COMPONENT}' xmlns:stream='${NS_STREAM}'>`;

/**
 * The attributes of a stanza's top element, read again from its original
 * text exactly as the session's StreamParser read them the first time (saxes
 * normalizes whitespace in attribute values, ltx does not). For a node that
 * was handed only the text of a stanza it must answer or bounce; rare, so one
 * parser per call is fine.
 *
 * A text that does not parse alone (a prefix its stream's header declared)
 * falls back to ltx's lenient reading of the same text.
 */
export function stanzaAttributes(raw: string): Record<string, string> {
  let attrs: Record<string, string> | undefined;
  const parser = new StreamParser({
    streamStart: () => undefined,
    element: (_name, a) => void (attrs ??= a),
    streamEnd: () => undefined,
    streamError: () => undefined,
  });
  parser.write(HEADER);
  parser.write(raw);
  if (attrs !== undefined) return attrs;
  const fallback: Record<string, string> = {};
  for (const [k, v] of Object.entries(parseStanza(raw).attrs)) if (typeof v === 'string') fallback[k] = v;
  return fallback;
}

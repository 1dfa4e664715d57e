import { SaxesParser, type SaxesAttributePlain, type SaxesTagPlain } from 'saxes';
import { StreamError, type StreamErrorCondition } from './errors.js';
import { NamespaceScope, isReservedNamespace, isXmlAttribute } from './xml-names.js';

/**
 * Frames an incoming XMPP stream into its header and top-level elements.
 *
 * The tokenizer is saxes, the strict parser that ltx offers as a backend:
 * ltx's own tokenizer silently skips DOCTYPEs, comments and processing
 * instructions and cannot say where an element began, and we need both, to
 * refuse restricted XML (RFC 6120 §11.1) and to forward a stanza's original
 * text instead of serializing it again (the hot path of a router).
 *
 * Only the head of each stanza (its name and attributes) and the number of
 * its direct children are kept; children are checked for well-formedness by
 * saxes and otherwise left as text.
 *
 * Namespaces: saxes runs with `xmlns: false`; names are looked at for a
 * ':' only in a stanza whose text has one (one indexOf per chunk tells), and
 * NamespaceScope checks only the tags with a prefixed name. Measured with
 * test/bench/stream-parser.bench.ts (CPU per stanza parsed, median of 12
 * runs): on a stanza with `xml:lang` and a `urn:` payload, `xmlns: true`
 * costs +55% (5.6 against 3.6 µs) and this check +4%; on the benchmark's
 * stanza, which has no ':', this check costs +2% (2.7 µs), within the spread
 * between runs. Two cheaper-looking ways lost: indexOf(':') on every
 * attribute name (+7%), and scanning a tag's text whenever a colon falls
 * inside it (+40% on the payload stanza, whose xmlns values hold colons).
 */

/**
 * saxes stores each handler under a computed key; past a few of them V8
 * turns the parser into a dictionary object and parsing runs 4-5x slower
 * (measured: 8.3 µs against 1.8 µs for a 120-byte stanza). Creating every
 * handler field up front, by name and in one order, keeps one fast shape.
 */
function shapedSaxesParser(): SaxesParser<{}> {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const fields = parser as unknown as Record<string, undefined>;
  fields.xmldeclHandler = undefined;
  fields.textHandler = undefined;
  fields.piHandler = undefined;
  fields.doctypeHandler = undefined;
  fields.commentHandler = undefined;
  fields.openTagStartHandler = undefined;
  fields.attributeHandler = undefined;
  fields.openTagHandler = undefined;
  fields.closeTagHandler = undefined;
  fields.cdataHandler = undefined;
  fields.errorHandler = undefined;
  fields.endHandler = undefined;
  fields.readyHandler = undefined;
  return parser;
}

export interface StreamHandler {
  /** The stream header: its qualified name and attributes, as sent. */
  streamStart(name: string, attrs: Record<string, string>): void;
  /**
   * One top-level element; `raw` is its exact text, without surrounding
   * whitespace; `children` is how many elements it directly contains.
   */
  element(name: string, attrs: Record<string, string>, raw: string, children: number): void;
  /** `</stream:stream>` arrived. */
  streamEnd(): void;
  /** The stream must end with this error; nothing more will be reported. */
  streamError(error: StreamError): void;
}

export interface StreamParserOptions {
  /** Largest top-level element, and largest stream header, in characters (bytes for ASCII). */
  maxElementSize: number;
  /** Deepest nesting in a stanza; the stanza itself is level 1. */
  maxDepth?: number;
  /** Most attributes on one element, namespace declarations included. */
  maxAttributes?: number;
}

export const DEFAULT_MAX_STANZA_SIZE = 256 * 1024;
/**
 * Generous for any real stanza (a Jingle or MUC payload nests 5 or 6 deep),
 * small enough that a hostile element is refused after a few microseconds of
 * work: parsed in full, 10,000 levels cost 3–10 ms of CPU and 40,000
 * attributes 25 ms (test/bench/hostile-input.bench.ts), while every session
 * on the node waits.
 */
export const DEFAULT_MAX_DEPTH = 64;
export const DEFAULT_MAX_ATTRIBUTES = 256;

/** Thrown from inside saxes to stop it on the first error: the rest of a hostile chunk is never tokenized. */
const STOP = Symbol('stop parsing');

export class StreamParser {
  private readonly saxes: SaxesParser<{}>;
  private readonly maxElementSize: number;
  private readonly maxDepth: number;
  private readonly maxAttributes: number;
  private readonly namespaces = new NamespaceScope();
  private depth = 0;
  /** Attributes of the start tag being read. */
  private attributeCount = 0;
  /**
   * Where the last ':' fed is (an absolute position). Before elementStart,
   * the current element has none, so no name in it can have a prefix.
   */
  private lastColon = -1;
  /** Prefixed attribute names of the start tag being read, other than xml:*. */
  private prefixedNames: string[] = [];
  /** Direct children of the current top-level element. */
  private children = 0;
  private failed = false;
  private ended = false;
  /** Unconsumed input: the text from `base` (an absolute position) on. */
  private buffer = '';
  private base = 0;
  /** Where the current top-level element (or the whitespace before it) starts. */
  private elementStart = 0;
  /** Characters written so far: saxes's own position is off between writes. */
  private fed = 0;
  private headName = '';
  private headAttrs: Record<string, string> = {};

  constructor(
    private readonly handler: StreamHandler,
    options: StreamParserOptions = { maxElementSize: DEFAULT_MAX_STANZA_SIZE },
  ) {
    this.maxElementSize = options.maxElementSize;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxAttributes = options.maxAttributes ?? DEFAULT_MAX_ATTRIBUTES;
    const saxes = shapedSaxesParser();
    this.saxes = saxes;
    // Per attribute, as saxes reads it: the count stops a wide element at
    // once, not after its last attribute.
    saxes.on('attribute', (attr) => this.onAttribute(attr as SaxesAttributePlain));
    saxes.on('opentag', (tag) => this.onOpen(tag));
    saxes.on('closetag', (tag) => this.onClose(tag));
    saxes.on('text', (text) => this.onText(text));
    saxes.on('cdata', () => this.onCdata());
    // RFC 6120 §11.1: no DTD, comments, processing instructions or entities.
    saxes.on('doctype', () => this.fail('restricted-xml', 'a DOCTYPE is not allowed in an XMPP stream'));
    saxes.on('comment', () => this.fail('restricted-xml', 'comments are not allowed in an XMPP stream'));
    saxes.on('processinginstruction', () =>
      this.fail('restricted-xml', 'processing instructions are not allowed in an XMPP stream'),
    );
    saxes.on('error', (err) => this.onSaxesError(err));
  }

  get isFailed(): boolean {
    return this.failed;
  }

  write(chunk: string): void {
    if (this.failed || this.ended || chunk.length === 0) return;
    try {
      this.parse(chunk);
    } catch (err) {
      if (err !== STOP) throw err;
    }
  }

  private parse(chunk: string): void {
    // Drop what earlier elements consumed; V8 keeps this a cheap slice.
    this.buffer = this.buffer.slice(this.elementStart - this.base) + chunk;
    this.base = this.elementStart;
    if (chunk.indexOf(':') !== -1) this.lastColon = this.fed + chunk.lastIndexOf(':');
    this.fed += chunk.length;
    this.saxes.write(chunk);
    // Checked once per chunk: an oversized element (or header) is refused
    // within one socket read of crossing the limit, never buffered to the end.
    if (this.fed - this.elementStart > this.maxElementSize) {
      this.fail('policy-violation', `${this.depth === 0 ? 'stream header' : 'stanza'} larger than ${this.maxElementSize} characters`);
    } else if (hasBadPendingEntity(this.saxes)) {
      // saxes reads an entity name up to the next ';', however far: a stray
      // '&' would otherwise swallow the stream until the size limit.
      this.fail('not-well-formed', "'&' must start an entity reference such as &amp;");
    }
  }

  private onAttribute(attr: SaxesAttributePlain): void {
    if (++this.attributeCount > this.maxAttributes) this.fail('policy-violation', `more than ${this.maxAttributes} attributes on one element`);
    if (this.lastColon < this.elementStart) return;
    const name = attr.name;
    // A loop, not indexOf: names are a few characters, and the builtin's call costs more.
    for (let i = name.length - 1; i >= 0; i--) {
      if (name.charCodeAt(i) === 58 /* : */) {
        // xml:lang and the like need no lookup: xml is bound by definition.
        if (!isXmlAttribute(name, i)) this.prefixedNames.push(name);
        return;
      }
    }
    if (name.length === 5 && name === 'xmlns' && isReservedNamespace(attr.value)) {
      this.fail('not-well-formed', `the default namespace may not be ${attr.value}`);
    }
  }

  private onOpen(tag: SaxesTagPlain): void {
    const depth = this.depth++;
    this.attributeCount = 0;
    if (depth > this.maxDepth) this.fail('policy-violation', `elements nested deeper than ${this.maxDepth} levels`);
    if (this.lastColon >= this.elementStart && (this.prefixedNames.length !== 0 || tag.name.indexOf(':') !== -1)) {
      const error = this.namespaces.enter(tag.name, this.prefixedNames, tag.attributes, depth);
      if (this.prefixedNames.length !== 0) this.prefixedNames = [];
      if (error !== null) this.failWith(error);
    }
    if (depth === 0) {
      this.elementStart = this.saxes.position;
      this.handler.streamStart(tag.name, tag.attributes);
    } else if (depth === 1) {
      this.headName = tag.name;
      this.headAttrs = tag.attributes;
      this.children = 0;
    } else if (depth === 2) {
      this.children++;
    }
  }

  private onClose(tag: SaxesTagPlain): void {
    const depth = --this.depth;
    if (depth <= this.namespaces.innermost) this.namespaces.leave(depth);
    if (depth <= 1 && !tag.isSelfClosing && !endsWithCloseTag(this.buffer, this.saxes.position - this.base, tag.name)) {
      // On a mismatched end tag saxes first closes the open elements, then
      // reports the error: those closes must not deliver a stanza or end the stream.
      this.fail('not-well-formed', `<${tag.name}> is not closed by </${tag.name}>`);
    }
    if (depth === 1) {
      const end = this.saxes.position;
      const raw = trimLeadingWhitespace(this.buffer.slice(this.elementStart - this.base, end - this.base));
      this.elementStart = end;
      if (raw.length > this.maxElementSize) this.fail('policy-violation', `stanza larger than ${this.maxElementSize} characters`);
      this.handler.element(this.headName, this.headAttrs, raw, this.children);
    } else if (depth === 0) {
      this.ended = true;
      this.handler.streamEnd();
      // Whatever follows </stream:stream> in the same read is not ours to judge.
      throw STOP;
    }
  }

  private onText(text: string): void {
    // Between stanzas only whitespace (keepalives) may appear (RFC 6120 §4.6.1).
    if (this.depth === 1 && !isWhitespace(text)) {
      this.fail('not-well-formed', 'text is not allowed between stanzas');
    }
  }

  private onCdata(): void {
    if (this.depth <= 1) this.fail('not-well-formed', 'CDATA is not allowed between stanzas');
  }

  private onSaxesError(err: Error): void {
    // saxes reports an undefined entity as a well-formedness error; RFC 6120
    // §11.1 names that case restricted-xml.
    if (/undefined entity/.test(err.message)) this.fail('restricted-xml', 'entity references other than the five predefined ones are not allowed');
    else this.fail('not-well-formed', err.message.replace(/^\d+:\d+: /, ''));
  }

  private fail(condition: StreamErrorCondition, text: string): never {
    return this.failWith(new StreamError(condition, text));
  }

  /**
   * Reports the error and stops: every caller runs inside write(), which
   * catches STOP, so saxes reads nothing more of the chunk and no handler
   * runs after the first error.
   */
  private failWith(error: StreamError): never {
    if (!this.failed && !this.ended) {
      this.failed = true;
      this.buffer = '';
      this.handler.streamError(error);
    }
    throw STOP;
  }
}

/** The five predefined names and character references (`#x1F600`) are all this long at most. */
const MAX_ENTITY_NAME = 10;
const ENTITY_NAME = /^[A-Za-z0-9#]*$/;

/** The entity name saxes has read without its ';' yet (an internal field, read defensively) cannot become valid. */
function hasBadPendingEntity(saxes: SaxesParser<{}>): boolean {
  const entity = (saxes as unknown as { entity?: unknown }).entity;
  return typeof entity === 'string' && entity.length > 0 && (entity.length > MAX_ENTITY_NAME || !ENTITY_NAME.test(entity));
}

/** The text before `end` is `</name>`, with optional whitespace before the '>'. */
function endsWithCloseTag(text: string, end: number, name: string): boolean {
  let i = end - 1;
  if (text.charCodeAt(i) !== 62 /* > */) return false;
  i--;
  while (i > 0 && isWhitespaceCode(text.charCodeAt(i))) i--;
  const start = i - name.length + 1;
  return text.startsWith(name, start) && text.charCodeAt(start - 1) === 47 /* / */ && text.charCodeAt(start - 2) === 60 /* < */;
}

function isWhitespaceCode(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function isWhitespace(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return false;
  }
  return true;
}

function trimLeadingWhitespace(s: string): string {
  const c = s.charCodeAt(0);
  return c === 60 /* < */ ? s : s.trimStart();
}

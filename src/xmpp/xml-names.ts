import { StreamError } from './errors.js';

/**
 * Namespace well-formedness (Namespaces in XML 1.0, W3C) for a stream parsed
 * with saxes's namespace processing off. RFC 6120 §11.2 requires
 * namespace-well-formed XML, and a strict peer that receives a stanza we
 * forwarded must not be the first to find out.
 *
 * Only start tags with a prefixed name come here, with the prefixed
 * attribute names the stream parser collected as saxes read them: saxes's
 * attribute object is a dictionary, and iterating it (for-in) cost more than
 * the rest of the check together. `xml:*` attributes and a default `xmlns`
 * are checked by the parser on the way, with isXmlAttribute and
 * isReservedNamespace.
 */

export const NS_XML = 'http://www.w3.org/XML/1998/namespace';
export const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';

/** The prefixes declared by the open elements, innermost last; one scope per stream. */
export class NamespaceScope {
  private readonly prefixes: string[] = [];
  private readonly uris: string[] = [];
  private readonly depths: number[] = [];
  /** The depth of the innermost open element that declared a prefix; -1 when none did. */
  innermost = -1;

  /**
   * Checks one start tag at `depth` (0 is the stream header) and takes its
   * declarations into scope. Returns the stream error it deserves, or null.
   */
  enter(name: string, prefixed: readonly string[], attrs: Record<string, string>, depth: number): StreamError | null {
    // Declarations first: they bind the element's own name and attributes, in whatever order they come.
    for (const attr of prefixed) {
      if (!attr.startsWith('xmlns:')) continue;
      const prefix = attr.slice(6);
      const problem = declarationProblem(prefix, attrs[attr]!);
      if (problem !== null) return new StreamError('not-well-formed', problem);
      this.prefixes.push(prefix);
      this.uris.push(attrs[attr]!);
      this.depths.push(depth);
      this.innermost = depth;
    }
    const colon = name.indexOf(':');
    if (colon !== -1) {
      const prefix = name.slice(0, colon);
      if (!isQName(name, colon)) return new StreamError('not-well-formed', `'${name}' is not a qualified name`);
      if (prefix === 'xmlns') return new StreamError('not-well-formed', "an element name may not have the prefix 'xmlns'");
      if (this.resolve(prefix) === undefined) {
        // RFC 6120 §4.9.3.2 gives exactly this case, a stream header whose
        // 'stream:' prefix is not declared, as its example of bad-namespace-prefix.
        // Inside the stream it is an XML-NAMES violation (§4.9.3.13).
        return new StreamError(depth === 0 ? 'bad-namespace-prefix' : 'not-well-formed', `the prefix '${prefix}' of <${name}> is not declared`);
      }
    }
    return prefixed.length === 0 ? null : this.attributesProblem(prefixed);
  }

  /** Forgets what the element at `depth` and those inside it declared (on its end tag). */
  leave(depth: number): void {
    const depths = this.depths;
    while (depths.length > 0 && depths[depths.length - 1]! >= depth) {
      depths.pop();
      this.prefixes.pop();
      this.uris.pop();
    }
    this.innermost = depths.length > 0 ? depths[depths.length - 1]! : -1;
  }

  private resolve(prefix: string): string | undefined {
    // The xml prefix is bound by definition and need not be declared.
    if (prefix === 'xml') return NS_XML;
    for (let i = this.prefixes.length - 1; i >= 0; i--) if (this.prefixes[i] === prefix) return this.uris[i];
    return undefined;
  }

  /** Prefixed attributes: well-formed names, declared prefixes, and no two the same once expanded. */
  private attributesProblem(prefixed: readonly string[]): StreamError | null {
    let expanded: string[] | undefined;
    for (const attr of prefixed) {
      const colon = attr.indexOf(':');
      if (attr.startsWith('xmlns:')) continue;
      if (!isQName(attr, colon)) return new StreamError('not-well-formed', `'${attr}' is not a qualified name`);
      const uri = this.resolve(attr.slice(0, colon));
      if (uri === undefined) return new StreamError('not-well-formed', `the prefix of the attribute '${attr}' is not declared`);
      // Namespaces in XML §6.3: a:x and b:x with a and b bound to one URI are the same attribute.
      const name = `${uri} ${attr.slice(colon + 1)}`;
      if (expanded === undefined) expanded = [name];
      else if (expanded.includes(name)) return new StreamError('not-well-formed', `the attribute '${attr}' appears twice once its prefix is expanded`);
      else expanded.push(name);
    }
    return null;
  }
}

/** What is wrong with `xmlns:prefix='uri'` (Namespaces in XML §3 and its Namespace Constraints), or null. */
function declarationProblem(prefix: string, uri: string): string | null {
  if (prefix.length === 0 || prefix.indexOf(':') !== -1 || !startsName(prefix)) return `'xmlns:${prefix}' does not declare a valid prefix`;
  if (prefix === 'xmlns') return "the prefix 'xmlns' may not be declared";
  if (prefix === 'xml' && uri !== NS_XML) return `the prefix 'xml' may be bound only to ${NS_XML}`;
  if (prefix !== 'xml' && uri === NS_XML) return `only the prefix 'xml' may be bound to ${NS_XML}`;
  if (uri === NS_XMLNS) return `no prefix may be bound to ${NS_XMLNS}`;
  // XML 1.0 namespaces cannot be undeclared (Namespaces in XML 1.0 §5; 1.1 allows it, XMPP uses 1.0).
  if (uri.length === 0) return `the prefix '${prefix}' may not be bound to the empty string`;
  return null;
}

/** A default namespace (`xmlns='uri'`) may be neither of these (Namespaces in XML §3). */
export function isReservedNamespace(uri: string): boolean {
  return uri === NS_XML || uri === NS_XMLNS;
}

/** `xml:local`, with `colon` the last ':' in `name`: bound by definition, nothing to look up. */
export function isXmlAttribute(name: string, colon: number): boolean {
  return colon === 3 && name.length > 4 && name.startsWith('xml') && startsNameCode(name.charCodeAt(4));
}

/** `prefix:local` with both parts non-empty names and no second colon (Namespaces in XML §4, QName). */
function isQName(name: string, colon: number): boolean {
  return colon > 0 && colon < name.length - 1 && name.indexOf(':', colon + 1) === -1 && startsName(name.slice(colon + 1));
}

/**
 * The first character may start an XML name. saxes already checked that the
 * whole qualified name is an XML Name; only the part after the colon may
 * still begin with a character that only continues names (a digit, '-', '.',
 * U+00B7, combining marks U+0300–036F, U+203F–2040).
 */
function startsName(part: string): boolean {
  return startsNameCode(part.charCodeAt(0));
}

function startsNameCode(c: number): boolean {
  if ((c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7) return false;
  return !((c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040);
}

import { isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';

/**
 * JIDs (RFC 7622) and the DNS names we use as XMPP domains, in one place.
 *
 * Our own domain and call-bridge names are DNS host names (the reference:
 * letters, digits and hyphens, labels of 1–63, at most 253 characters):
 * domainNameProblem and isValidDnsLabel. Addresses on the wire may be any
 * RFC 7622 JID: routingDomain checks one and gives the domain to route on,
 * parseJid splits it by the same rules.
 */

export interface Jid {
  local: string | null;
  domain: string;
  resource: string | null;
}

const MAX_PART_BYTES = 1023;
const MAX_DOMAIN_CHARS = 253;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** A DNS label: letters, digits, hyphens, 1–63, no hyphen at either end. */
export function isValidDnsLabel(label: string): boolean {
  return LABEL.test(label);
}

/** Why a domain is refused, in words an operator can act on, or null if it is fine. */
export function domainNameProblem(name: string): string | null {
  if (name.length === 0) return 'the domain is empty';
  if (name.length > MAX_DOMAIN_CHARS) return `the domain is ${name.length} characters long; at most ${MAX_DOMAIN_CHARS} are allowed`;
  for (const label of name.split('.')) {
    if (label.length === 0) return 'the domain has an empty label (two dots, or a dot at either end)';
    if (label.length > 63) return `the label '${label.slice(0, 20)}...' is longer than 63 characters`;
    if (!LABEL.test(label)) return `the label '${label}' may hold only letters, digits and hyphens, and may not start or end with a hyphen`;
  }
  return null;
}

/**
 * The domain part of a JID, lowercased, without validating the rest.
 * This is the routing hot path: two indexOf and a slice.
 */
export function domainOf(jid: string): string {
  const slash = jid.indexOf('/');
  const bare = slash === -1 ? jid : jid.slice(0, slash);
  const at = bare.indexOf('@');
  const domain = at === -1 ? bare : bare.slice(at + 1);
  return hasUpperAscii(domain) ? domain.toLowerCase() : domain;
}

function hasUpperAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/** Parses a JID by the same rules as routingDomain; null when it is malformed (RFC 7622). */
export function parseJid(text: string): Jid | null {
  const domain = routingDomain(text);
  if (domain === null) return null;
  const slash = text.indexOf('/');
  const bare = slash === -1 ? text : text.slice(0, slash);
  const at = bare.indexOf('@');
  return { local: at === -1 ? null : bare.slice(0, at), domain, resource: slash === -1 ? null : text.slice(slash + 1) };
}

/**
 * RFC 7622 for the addresses of routed stanzas, in one pass over the text;
 * it runs for `to` and `from` of every stanza.
 *
 * Local part (§3.3, PRECIS IdentifierClass): printable ASCII except the
 * characters §3.3.1 forbids, and beyond ASCII letters, digits and marks.
 * Resource (§3.4, OpaqueString): anything but control characters. Domain
 * (§3.2): any domainpart, not only our DNS names: an IP literal, or labels of
 * letters, digits and inner hyphens, at most 63 octets once in ASCII form; a
 * final dot is dropped. Each part is 1 to 1023 octets of UTF-8.
 *
 * Not applied: PRECIS width and case mapping and the exclusion of characters
 * with compatibility decompositions (they need Unicode tables we do not
 * keep); the server compares domains only, and those are case-folded here.
 */
const IN_LOCAL = 1;
const IN_DOMAIN = 2;
const IN_RESOURCE = 4;
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0x20; c < 0x7f; c++) {
  const ch = String.fromCharCode(c);
  ASCII_CLASS[c] = IN_RESOURCE;
  if (c !== 0x20 && !`"&'/:<>@`.includes(ch)) ASCII_CLASS[c]! |= IN_LOCAL;
  if (/[A-Za-z0-9-]/.test(ch)) ASCII_CLASS[c]! |= IN_DOMAIN;
}
const LOCAL_BEYOND_ASCII = /^(?:[\x21\x23-\x25\x28-\x2e\x30-\x39\x3b\x3d\x3f\x41-\x7e]|[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}])+$/u;
const RESOURCE_BEYOND_ASCII = /^[^\p{Cc}]+$/u;
const LABEL_BEYOND_ASCII = /^[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}](?:[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}-]*[\p{Ll}\p{Lu}\p{Lo}\p{Lm}\p{Nd}\p{Mn}\p{Mc}])?$/u;

/**
 * The domain to route on, lowercased and without a final dot, when `jid`
 * is a valid JID (RFC 7622); null when it is malformed.
 */
export function routingDomain(jid: string): string | null {
  const length = jid.length;
  // One loop to find the first '@' and the first '/', checking the local
  // part on the way: cheaper than two indexOf calls on strings this short.
  let at = -1;
  let slash = length;
  let localClass = IN_LOCAL;
  let beyondAscii = false;
  for (let i = 0; i < length; i++) {
    const c = jid.charCodeAt(i);
    if (c === 47 /* / */) {
      slash = i;
      break;
    }
    if (at !== -1) continue;
    if (c === 64 /* @ */) at = i;
    else if (c >= 128) beyondAscii = true;
    else localClass &= ASCII_CLASS[c]!;
  }
  if (at !== -1) {
    if (at === 0 || at > MAX_PART_BYTES) return null;
    if (beyondAscii ? !validPart(jid, 0, at, IN_LOCAL, LOCAL_BEYOND_ASCII) : localClass === 0) return null;
  }
  if (slash !== length && !validPart(jid, slash + 1, length, IN_RESOURCE, RESOURCE_BEYOND_ASCII)) return null;
  return domainpart(jid, at + 1, slash);
}

/** One local part or resource: 1–1023 octets of allowed characters. */
function validPart(text: string, start: number, end: number, klass: number, beyondAscii: RegExp): boolean {
  if (end === start || end - start > MAX_PART_BYTES) return false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128) {
      const part = text.slice(start, end);
      return Buffer.byteLength(part) <= MAX_PART_BYTES && beyondAscii.test(part);
    }
    if ((ASCII_CLASS[c]! & klass) === 0) return false;
  }
  return true;
}

function domainpart(text: string, start: number, end: number): string | null {
  if (end - start > MAX_PART_BYTES) return null;
  if (text.charCodeAt(start) === 91 /* [ */) {
    // §3.2: an IPv6 literal in brackets, as in a URI (RFC 3986 §3.2.2).
    return text.charCodeAt(end - 1) === 93 /* ] */ && isIPv6(text.slice(start + 1, end - 1)) ? text.slice(start, end).toLowerCase() : null;
  }
  // §3.2: a final dot is not part of the domain.
  if (end > start + 1 && text.charCodeAt(end - 1) === 46 /* . */) end--;
  let labelStart = start;
  let upper = false;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 46 : text.charCodeAt(i);
    if (c === 46) {
      const n = i - labelStart;
      if (n === 0 || n > 63 || text.charCodeAt(labelStart) === 45 || text.charCodeAt(i - 1) === 45) return null;
      labelStart = i + 1;
    } else if (c >= 128) {
      return internationalDomain(text.slice(start, end));
    } else if ((ASCII_CLASS[c]! & IN_DOMAIN) === 0) {
      return null;
    } else if (c >= 65 && c <= 90) {
      upper = true;
    }
  }
  const domain = start === 0 && end === text.length ? text : text.slice(start, end);
  return upper ? domain.toLowerCase() : domain;
}

/** A domain with U-labels (IDNA2008): letters, digits and marks, each label at most 63 octets as an A-label. */
function internationalDomain(domain: string): string | null {
  if (Buffer.byteLength(domain) > MAX_PART_BYTES) return null;
  const labels = domain.split('.');
  for (const label of labels) if (!LABEL.test(label) && !LABEL_BEYOND_ASCII.test(label)) return null;
  const ascii = domainToASCII(domain);
  if (ascii === '' || ascii.split('.').some((label) => label.length > 63)) return null;
  return domain.toLowerCase();
}

export function formatJid(jid: Jid): string {
  let s = jid.domain;
  if (jid.local !== null) s = `${jid.local}@${s}`;
  if (jid.resource !== null) s = `${s}/${jid.resource}`;
  return s;
}

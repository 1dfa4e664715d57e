/**
 * JIDs (RFC 7622) and the DNS names we use as XMPP domains, in one place.
 *
 * Domains here are DNS host names (the reference: letters, digits and
 * hyphens, labels of 1–63, at most 253 characters). Local and resource parts
 * are checked for length and for the characters RFC 7622 forbids; we do not
 * apply PRECIS case folding to them because we never compare them, we only
 * route on the domain.
 */

export interface Jid {
  local: string | null;
  domain: string;
  resource: string | null;
}

const MAX_PART_BYTES = 1023;
const MAX_DOMAIN_CHARS = 253;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// RFC 7622 §3.3.1: these may not appear in a localpart; controls and spaces neither.
const FORBIDDEN_IN_LOCAL = /["&'/:<>@\s\u0000-\u001f\u007f]/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A DNS label: letters, digits, hyphens, 1–63, no hyphen at either end. */
export function isValidDnsLabel(label: string): boolean {
  return LABEL.test(label);
}

/** A DNS host name used as an XMPP domain; a trailing dot is not accepted. */
export function isValidDomainName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_DOMAIN_CHARS) return false;
  const labels = name.split('.');
  for (const label of labels) if (!LABEL.test(label)) return false;
  return true;
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

/** Parses and validates a JID; returns null when it is malformed (RFC 7622). */
export function parseJid(text: string): Jid | null {
  const slash = text.indexOf('/');
  const bare = slash === -1 ? text : text.slice(0, slash);
  const resource = slash === -1 ? null : text.slice(slash + 1);
  const at = bare.indexOf('@');
  const local = at === -1 ? null : bare.slice(0, at);
  const domain = (at === -1 ? bare : bare.slice(at + 1)).toLowerCase();

  if (!isValidDomainName(domain)) return null;
  if (local !== null) {
    if (local.length === 0 || Buffer.byteLength(local) > MAX_PART_BYTES || FORBIDDEN_IN_LOCAL.test(local)) return null;
  }
  if (resource !== null) {
    if (resource.length === 0 || Buffer.byteLength(resource) > MAX_PART_BYTES || CONTROL.test(resource)) return null;
  }
  return { local, domain, resource };
}

export function formatJid(jid: Jid): string {
  let s = jid.domain;
  if (jid.local !== null) s = `${jid.local}@${s}`;
  if (jid.resource !== null) s = `${s}/${jid.resource}`;
  return s;
}

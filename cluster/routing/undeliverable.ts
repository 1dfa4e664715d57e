import type { Stanza } from '../../src/router/router.js';
import { StanzaError, type StanzaErrorCondition } from '../../src/xmpp/errors.js';
import { errorReply } from '../../src/xmpp/stanza.js';

/**
 * The bounce for a stanza that cannot be delivered, as LocalRouter gives it,
 * or null when none is due: never an error for an error or an iq result
 * (RFC 6120 §8.3.1), those are dropped.
 */
export function bounceFor(stanza: Stanza, condition: StanzaErrorCondition): string | null {
  const type = stanza.attrs.type;
  if (type === 'error' || (stanza.name === 'iq' && type === 'result')) return null;
  const text = condition === 'service-unavailable' ? `${stanza.toDomain} is not connected` : `${stanza.toDomain} is not served here`;
  return errorReply(stanza.name, stanza.attrs, new StanzaError(condition, text));
}

/** What LocalRouter answers at once for a destination nobody holds: a component of ours, or another server. */
export function immediateCondition(toDomain: string, domain: string): StanzaErrorCondition {
  return toDomain.endsWith(`.${domain}`) ? 'service-unavailable' : 'remote-server-not-found';
}

/**
 * Another server's domain: not ours, not under ours (a component of ours that
 * is not connected), and not a bare name (CMS's alias for one of our call bridges).
 */
export function isRemoteDomain(toDomain: string, domain: string): boolean {
  return toDomain.indexOf('.') !== -1 && !toDomain.endsWith(`.${domain}`);
}

/**
 * The key a destination is known by: a component's address, with CMS's bare
 * call-bridge name (`cb1`) read as `cb1.<domain>`; any other domain as itself.
 */
export function destinationKey(toDomain: string, domain: string): string {
  return toDomain === domain || toDomain.indexOf('.') !== -1 ? toDomain : `${toDomain}.${domain}`;
}

/** A component address of our domain: what the leader may hold stanzas for while it reconnects. */
export function isComponentOf(address: string, domain: string): boolean {
  return address.endsWith(`.${domain}`);
}

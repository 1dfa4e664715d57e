import { StanzaError } from '../xmpp/errors.js';

/**
 * The condition that stanzas queued for a remote domain bounce with when
 * every address of the peer failed (federation.md, "Errors on the wire"):
 *
 * - no address answered (nothing resolved, every connect refused or timed
 *   out, the SRV answer says the service is not there): `remote-server-not-found`;
 * - one answered but the stream did not complete in time: `remote-server-timeout`;
 * - TLS or authentication failed, or TLS is required and the peer offers
 *   none: `remote-connection-failed`.
 *
 * When the attempts ended differently, the one that got furthest decides:
 * a peer that answered and then failed TLS or dialback is not "not found"
 * because another of its addresses refused the connection, and a definite
 * refusal says more than a timeout. Pure: the stream code records one
 * outcome per address it tried.
 */

export type AttemptOutcome =
  /** TCP connect refused, unreachable or timed out: nothing answered at this address. */
  | 'no-answer'
  /** Connected, but the stream (header, features, TLS, dialback, SASL) did not complete in time. */
  | 'timeout'
  /** `required` security mode and the peer offered no STARTTLS (RFC 6120 §5.3.1). */
  | 'tls-unavailable'
  /** The TLS handshake failed, or the peer's certificate did not verify where it must. */
  | 'tls-failed'
  /** Dialback `type='invalid'` or a SASL EXTERNAL `<failure/>` with no other method left. */
  | 'auth-failed'
  /** The peer ended the stream with a stream error before it was ready (host-unknown, policy-violation, ...). */
  | 'stream-error';

export type BounceCondition = 'remote-server-not-found' | 'remote-server-timeout' | 'remote-connection-failed';

const RANK: Record<AttemptOutcome, number> = {
  'no-answer': 0,
  timeout: 1,
  'tls-unavailable': 2,
  'tls-failed': 2,
  'auth-failed': 2,
  'stream-error': 2,
};

const CONDITION_OF_RANK: readonly BounceCondition[] = ['remote-server-not-found', 'remote-server-timeout', 'remote-connection-failed'];

/** The bounce condition for a failed connection to a domain; no attempts at all (no address) is `remote-server-not-found`. */
export function bounceCondition(outcomes: readonly AttemptOutcome[]): BounceCondition {
  const furthest = outcomes.reduce((max, o) => Math.max(max, RANK[o]), 0);
  return CONDITION_OF_RANK[furthest]!;
}

/**
 * The stanza error to bounce with (types as RFC 6120 §8.3.3 gives them:
 * not-found `cancel`, timeout `wait`; connection-failed `cancel`), with a
 * text for the sender that names the domain.
 */
export function bounceError(domain: string, outcomes: readonly AttemptOutcome[]): StanzaError {
  const condition = bounceCondition(outcomes);
  const text =
    condition === 'remote-server-not-found'
      ? `no server for ${domain} answered`
      : condition === 'remote-server-timeout'
        ? `the server for ${domain} did not complete the connection in time`
        : `the connection to ${domain} failed (TLS or authentication)`;
  return new StanzaError(condition, text);
}

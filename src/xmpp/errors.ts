/**
 * XMPP errors as values that carry their RFC 6120 condition. Code throws
 * them and tests assert on `condition`, never on message strings.
 */

/** RFC 6120 §4.9.3 stream error conditions. */
export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** RFC 6120 §8.3.3 stanza error conditions. */
export type StanzaErrorCondition =
  | 'bad-request'
  | 'conflict'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'gone'
  | 'internal-server-error'
  | 'item-not-found'
  | 'jid-malformed'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'policy-violation'
  | 'recipient-unavailable'
  | 'redirect'
  | 'registration-required'
  /**
   * Not an RFC 6120 §8.3.3 stanza condition but the §4.9.3.15 stream one:
   * federation.md ("Errors on the wire") bounces stanzas queued for a peer
   * whose TLS or authentication failed with it, to tell that apart from a
   * peer that never answered (remote-server-not-found).
   */
  | 'remote-connection-failed'
  | 'remote-server-not-found'
  | 'remote-server-timeout'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'subscription-required'
  | 'undefined-condition'
  | 'unexpected-request';

/** RFC 6120 §8.3.2 error types. */
export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** The type RFC 6120 §8.3.3 gives each condition in its examples. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  'bad-request': 'modify',
  conflict: 'cancel',
  'feature-not-implemented': 'cancel',
  forbidden: 'auth',
  gone: 'cancel',
  'internal-server-error': 'cancel',
  'item-not-found': 'cancel',
  'jid-malformed': 'modify',
  'not-acceptable': 'modify',
  'not-allowed': 'cancel',
  'not-authorized': 'auth',
  'policy-violation': 'modify',
  'recipient-unavailable': 'wait',
  redirect: 'modify',
  'registration-required': 'auth',
  'remote-connection-failed': 'cancel',
  'remote-server-not-found': 'cancel',
  'remote-server-timeout': 'wait',
  'resource-constraint': 'wait',
  'service-unavailable': 'cancel',
  'subscription-required': 'auth',
  'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

export class XmppError extends Error {
  constructor(
    readonly condition: string,
    readonly text?: string,
  ) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'XmppError';
  }
}

/** Ends the whole stream (RFC 6120 §4.9). */
export class StreamError extends XmppError {
  constructor(
    override readonly condition: StreamErrorCondition,
    text?: string,
  ) {
    super(condition, text);
    this.name = 'StreamError';
  }
}

/** Answers one stanza and leaves the stream up (RFC 6120 §8.3). */
export class StanzaError extends XmppError {
  readonly type: StanzaErrorType;
  constructor(
    override readonly condition: StanzaErrorCondition,
    text?: string,
    type?: StanzaErrorType,
  ) {
    super(condition, text);
    this.name = 'StanzaError';
    this.type = type ?? DEFAULT_TYPE[condition];
  }
}

import type { S2sEnvironment } from './server-streams.js';
import type { StreamDirection } from './federation-policy.js';

/**
 * The protocol's entries of federation.md's "Event log": one JSON line per
 * event, each with the remote domain, the peer address, the direction and
 * the node. Callers pass only names, addresses and reasons: never a key, a
 * secret or a digest (the logger's redaction is the second fence, not the first).
 */

export type S2sEvent =
  | 'tls-established'
  | 'tls-failed'
  | 'sasl-external-succeeded'
  | 'sasl-external-failed'
  | 'dialback-sent'
  | 'dialback-verified'
  | 'dialback-invalid'
  | 'dialback-timeout'
  | 'policy-refused';

export interface S2sEventFields {
  domain: string;
  peer: string;
  direction: StreamDirection;
  /** Anything else worth a column: a TLS version, a reason. Never key material. */
  [extra: string]: string | number | boolean | undefined;
}

const WARN = new Set<S2sEvent>(['tls-failed', 'sasl-external-failed', 'dialback-invalid', 'dialback-timeout', 'policy-refused']);

export function s2sEvent(env: S2sEnvironment, event: S2sEvent, fields: S2sEventFields, message: string): void {
  // env.log is bound to module XMPPFederation already: naming it here too wrote the key twice in every line.
  const line = { event, node: env.nodeName, ...fields };
  if (WARN.has(event)) env.log.warn(line, message);
  else env.log.info(line, message);
}
